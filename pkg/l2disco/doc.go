// Package l2disco builds and sends the unsolicited link-layer announcements
// that correct peers' stale neighbour entries: gratuitous ARP requests
// (RFC 5227, Section 2.3) and unsolicited IPv6 Neighbor Advertisements
// (RFC 4861, Section 7.2.6), plus directed ARP requests and Neighbor
// Solicitations (RFC 4861, Section 7.2.2) for peers that ignore unsolicited
// announcements.
//
// Frame building (frames.go) is pure and byte-exact. Sending (sender_linux.go)
// uses sockets opened inside the interface's network namespace, which then
// work from any goroutine or, handed over with [Sender.Files], any process.
// [Announcer] repeats the announcements on a schedule and stops when the
// interface's MAC changes or the link or network namespace goes away.
//
// Some peers ignore every unsolicited announcement. [Listener] and
// [StaleWatch] find them by the frames they keep sending to our address at
// the old MAC, which the bridge floods to the new interface: a kernel
// filter ([StaleFilter]) keeps only those, [ParseStaleFrame] reads the peer
// from one, and the watch sends that peer a request addressed to it.
package l2disco
