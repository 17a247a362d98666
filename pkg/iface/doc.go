// Package iface holds the steps ndp-announce runs on a container's interface
// once it is in the container's network namespace with its addresses — the
// one ADD pipeline:
//
//   - Open opens the namespace and the link once; every later step uses that
//     one Handle (a namespace descriptor and a netlink handle).
//   - Handle.Configure applies the per-interface sysctls and turns IPv6 off
//     where it is unused, in one pass with one rollback (Unconfigure), and
//     reports the addresses the sysctls removed.
//   - Handle.Announce waits, with deadlines, for the states that decide
//     whether the first unsolicited ARP and Neighbour Advertisement reach
//     anyone (link up, the host-side bridge port forwarding, a route to
//     ff02::1, IPv6 duplicate address detection done), then sends the first
//     round on sockets opened in the namespace and returns them for the rest.
//
// The CNI plugin runs these steps after bridge. Add is the same steps behind
// Docker libnetwork's move-and-configure path, for runtimes that create their
// own veth: it moves a link into a namespace, names and addresses it, runs
// Configure and Announce, and keeps the remaining rounds in a goroutine until
// Attachment.Remove.
//
// Waits never fail the caller: they return a WaitResult that says what was
// seen, for the log. A zero wait deadline means do not wait, everywhere;
// DefaultWaits are the plugin's defaults.
package iface
