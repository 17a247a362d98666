// Package installer is the install and uninstall subcommands of the ndp-announce binary: they put
// the plugin on a node — the binary into the CNI bin dir and an {"type": "ndp-announce"} entry right
// after the interface plugin of the network configuration the runtime uses — and take it off
// again. The Kubernetes DaemonSets in deploy/kubernetes run them; an operator can run them by hand.
//
// Install works everything out before it changes anything: it picks the file (the one libcni's
// ConfFiles loads first, symlinks included), checks that ndp-announce can follow one of its plugins
// (see Served) and prepares the edit; only then does it copy the binary, and last it writes the file,
// so that a runtime never meets a config naming a binary that is not there yet.
//
// The package does not know the plugin's configuration: the main package injects the version and the
// validation every ADD applies (Env), so --plugin-config is refused on the command line, not by
// every pod on the node.
package installer
