// Package iface configures a container's network interface from outside its
// network namespace and waits, with deadlines, for the states that decide
// whether the first unsolicited ARP and Neighbour Advertisement reach anyone:
// link up, the host-side bridge port forwarding, a route to ff02::1 and IPv6
// duplicate address detection done. [Add] then sends those announcements
// itself (through pkg/l2disco, on sockets opened in the container's netns):
// the first round before it returns, the rest in the background until
// [Attachment.Remove].
//
// Every function names the network namespaces it works in (a [Target]), so
// the caller never has to switch its own thread. Waits never fail the caller:
// they return a [WaitResult] that says what was seen, for the log.
package iface
