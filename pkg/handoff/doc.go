// Package handoff is the wire protocol between the plugin's ADD, DEL and GC and the node service
// (`ndp-announce daemon`) on the unix socket DATADIR/announcer.sock.
//
// The socket is SOCK_SEQPACKET, so one request is one message: a small JSON header and, for an
// announce, the attachment's already-open sockets as SCM_RIGHTS in the same message. The service
// answers with one Reply and closes the connection. Every message carries a protocol version; a
// service refuses a version it does not speak, and the plugin then falls back to its detached
// process: a plugin and a service that share no version never fail ADD.
//
// Decoding is strict (unknown fields, trailing data, oversized messages, truncated control data,
// descriptors the header does not name are all refused), so a new field means a new version.
package handoff
