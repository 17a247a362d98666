// Package conflist chains a CNI plugin into a node's network configuration file right after another
// plugin (ndp-announce after the interface plugin: bridge, macvlan, ...), and takes it out again.
// It picks the file as libcni's ConfFiles does (symlinks included), edits a symlink's target in
// place, and writes atomically (WriteAtomic, which the installer also uses for the binary).
//
// It edits the file's text in place instead of decoding it into structs and encoding it back, so
// everything it does not need to touch stays byte for byte: unknown fields, key order, number
// formatting, indentation and comments.
//
// Comments: the CNI specification's files are plain JSON and libcni (so containerd and CRI-O) rejects
// a file with comments. Some operators and lenient tools still keep `//` and `/* */` comments in files
// next to the runtime's (templates, files of other tools, copies). The patcher accepts those
// comments anywhere JSON allows whitespace, keeps them, and reports that the file has them, since a
// runtime that uses libcni will not load that file whatever the patcher does. It never adds any.
package conflist
