package conflist

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// BackupSuffix is appended to a file's name for the copy kept before each change. Runtimes load only
// .conf, .conflist and .json files (libcni's ConfFiles), so they never load a backup.
const BackupSuffix = ".ndp-announce.bak"

// Extensions are the file name extensions runtimes load network configurations from.
var Extensions = []string{".conf", ".conflist", ".json"}

// FileResult is what a change to a configuration file does or did.
type FileResult struct {
	Result
	// Path is the file written: the configuration the runtime loads or, when that is a symlink, its
	// target. A .conf that became a list is now a .conflist.
	Path string
	// Link is the symlink the runtime loads when Path is its target, "" otherwise. It is kept as it is.
	Link string
	// Backup is the copy of the previous content, next to Path; "" when nothing changed.
	Backup string
}

// DefaultFile returns the configuration file that containerd and CRI-O use for pods: the first, by
// name, of dir's entries with one of Extensions that are not directories. That is libcni's
// ConfFiles, sorted, which is what both runtimes call: symlinks count by their own name, whatever
// they point to (a dangling one too, which then fails to load).
func DefaultFile(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("read CNI config dir: %w", err)
	}
	var names []string
	for _, e := range entries {
		// DirEntry.IsDir is the entry's own type: false for a symlink, even one to a directory.
		if !e.IsDir() && hasExt(e.Name()) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no %s file in %s: is the node's network plugin installed yet?", strings.Join(Extensions, ", "), dir)
	}
	sort.Strings(names)
	return filepath.Join(dir, names[0]), nil
}

// Change is an edit of a configuration file, worked out and checked but not written yet: a caller
// that must do something else first (install the plugin's binary) knows before it starts whether
// the file can take the change.
type Change struct {
	res  FileResult
	src  string // the regular file read: res.Path, or the .conf a conversion replaces
	old  []byte
	mode fs.FileMode
}

// Result is what Apply will do; Backup is still "".
func (c *Change) Result() FileResult { return c.res }

// PrepareChain reads the file at path and chains opts.Plugin into it (see Chain) in memory. A
// symlink is followed: its target is what Apply edits, in place, and the link stays. A
// single-plugin .conf or .json is to become a .conflist of the same base name; one behind a symlink
// is refused, since the runtime loads it by the link's name and extension.
func PrepareChain(path string, opts Options) (*Change, error) {
	c, err := read(path)
	if err != nil {
		return nil, err
	}
	res, err := Chain(c.old, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name(), err)
	}
	c.res.Result = res
	if !res.Converted {
		return c, nil
	}
	if c.res.Link != "" {
		return nil, fmt.Errorf("%s: a symlink to the single-plugin configuration %s: the runtime loads it as %s by the link's name, so it cannot become a plugin list in place; make %s a .conflist by hand",
			c.res.Link, c.res.Path, filepath.Ext(c.res.Link), c.res.Link)
	}
	list := strings.TrimSuffix(path, filepath.Ext(path)) + ".conflist"
	if _, err := os.Lstat(list); err == nil {
		return nil, fmt.Errorf("%s is a single plugin and %s exists already: merge them by hand", path, list)
	}
	c.res.Path = list
	return c, nil
}

// PrepareUnchain reads the file at path (a symlink's target) and removes every plugin of type typ
// from it (see Unchain) in memory. A list that ChainFile made from a .conf stays a list: it is the
// same network as the .conf was.
func PrepareUnchain(path, typ string) (*Change, error) {
	c, err := read(path)
	if err != nil {
		return nil, err
	}
	res, err := Unchain(c.old, typ)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name(), err)
	}
	c.res.Result = res
	return c, nil
}

// Apply writes the change, if any: atomically, after the previous content was saved to the
// backup, both in the written file's own directory (a symlink's target's). A conversion writes the
// .conflist, then renames the original file to the backup name, so that the runtime sees one
// file or the other, never neither.
func (c *Change) Apply() (FileResult, error) {
	out := c.res
	if !out.Changed {
		return out, nil
	}
	if !out.Converted {
		out.Backup = out.Path + BackupSuffix
		if err := WriteAtomic(out.Backup, c.old, c.mode); err != nil {
			return FileResult{}, fmt.Errorf("back up %s: %w", out.Path, err)
		}
		return out, WriteAtomic(out.Path, out.Data, c.mode)
	}
	orig := c.src
	if err := WriteAtomic(out.Path, out.Data, c.mode); err != nil {
		return FileResult{}, err
	}
	out.Backup = orig + BackupSuffix
	if err := os.Rename(orig, out.Backup); err != nil {
		// Two equivalent networks, one with the plugin: runtimes take the first by name, the old one.
		return FileResult{}, fmt.Errorf("move %s out of the way to %s (left %s next to it): %w", orig, out.Backup, out.Path, err)
	}
	return out, syncDir(filepath.Dir(out.Path))
}

// ChainFile is PrepareChain, then Apply.
func ChainFile(path string, opts Options) (FileResult, error) {
	c, err := PrepareChain(path, opts)
	if err != nil {
		return FileResult{}, err
	}
	return c.Apply()
}

// UnchainFile is PrepareUnchain, then Apply.
func UnchainFile(path, typ string) (FileResult, error) {
	c, err := PrepareUnchain(path, typ)
	if err != nil {
		return FileResult{}, err
	}
	return c.Apply()
}

// read loads the configuration at path, following a symlink to the regular file it names.
func read(path string) (*Change, error) {
	c := &Change{res: FileResult{Path: path}}
	if fi, err := os.Lstat(path); err != nil {
		return nil, fmt.Errorf("read CNI config: %w", err)
	} else if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return nil, fmt.Errorf("read CNI config %s: follow symlink: %w", path, err)
		}
		c.res.Path, c.res.Link = target, path
	}
	fi, err := os.Stat(c.res.Path)
	if err != nil {
		return nil, fmt.Errorf("read CNI config: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read CNI config %s: not a regular file", c.name())
	}
	if c.old, err = os.ReadFile(c.res.Path); err != nil {
		return nil, fmt.Errorf("read CNI config: %w", err)
	}
	c.src, c.mode = c.res.Path, fi.Mode().Perm()
	return c, nil
}

// name is the file as the runtime knows it, with the target a symlink leads to.
func (c *Change) name() string {
	if c.res.Link != "" {
		return c.res.Link + " -> " + c.res.Path
	}
	return c.res.Path
}

func hasExt(name string) bool {
	ext := filepath.Ext(name)
	for _, e := range Extensions {
		if ext == e {
			return true
		}
	}
	return false
}
