// Package daemon is the node service, `ndp-announce daemon`: it takes the attachments' sockets
// from ADD over DATADIR/announcer.sock (package handoff), sends their remaining announcement
// rounds from one process, stops them on DEL and GC, and serves the node's metrics.
//
// One job (a goroutine and a timer) per attachment with rounds left; nothing is forked. A job ends
// after its last round, or earlier when the MAC changed, the link or the netns is gone, or DEL or
// GC stopped it, and then closes its sockets: the service never keeps a deleted netns alive longer
// than the attachment's remaining rounds. State is in memory only: a restart loses the remaining
// rounds of the attachments in flight (logged at shutdown), never an ADD or a DEL, which carry on
// without the service.
package daemon
