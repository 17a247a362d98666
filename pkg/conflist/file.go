package conflist

import (
	"errors"
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

// FileResult is what ChainFile or UnchainFile did.
type FileResult struct {
	Result
	// Path is the configuration file after the change: a .conf that became a list is now a .conflist.
	Path string
	// Backup is the copy of the previous content, "" when nothing changed.
	Backup string
}

// DefaultFile returns the configuration file that containerd and CRI-O use for pods: the first, by
// name, of dir's files with one of Extensions (libcni's ConfFiles, sorted).
func DefaultFile(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("read CNI config dir: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && hasExt(e.Name()) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no %s file in %s: is the node's network plugin installed yet?", strings.Join(Extensions, ", "), dir)
	}
	sort.Strings(names)
	return filepath.Join(dir, names[0]), nil
}

// ChainFile chains opts.Plugin into the file at path (see Chain). A changed file is replaced
// atomically, after its previous content was saved to path+BackupSuffix. A single-plugin .conf or
// .json becomes a .conflist of the same base name, and the original file is renamed to the backup
// name, so that the runtime sees one file or the other, never neither.
func ChainFile(path string, opts Options) (FileResult, error) {
	data, mode, err := readConfig(path)
	if err != nil {
		return FileResult{}, err
	}
	res, err := Chain(data, opts)
	if err != nil {
		return FileResult{}, fmt.Errorf("%s: %w", path, err)
	}
	out := FileResult{Result: res, Path: path}
	if !res.Changed {
		return out, nil
	}
	if !res.Converted {
		out.Backup, err = replace(path, data, res.Data, mode)
		return out, err
	}

	list := strings.TrimSuffix(path, filepath.Ext(path)) + ".conflist"
	if _, err := os.Lstat(list); err == nil {
		return FileResult{}, fmt.Errorf("%s is a single plugin and %s exists already: merge them by hand", path, list)
	}
	if err := writeAtomic(list, res.Data, mode); err != nil {
		return FileResult{}, err
	}
	backup := path + BackupSuffix
	if err := os.Rename(path, backup); err != nil {
		// Two equivalent networks, one with the plugin: runtimes take the first by name, the old one.
		return FileResult{}, fmt.Errorf("move %s out of the way to %s (left %s next to it): %w", path, backup, list, err)
	}
	out.Path, out.Backup = list, backup
	return out, syncDir(filepath.Dir(path))
}

// UnchainFile removes every plugin of type typ from the file at path (see Unchain), keeping a backup
// of the previous content. A list that ChainFile made from a .conf stays a list: it is the same
// network as the .conf was.
func UnchainFile(path, typ string) (FileResult, error) {
	data, mode, err := readConfig(path)
	if err != nil {
		return FileResult{}, err
	}
	res, err := Unchain(data, typ)
	if err != nil {
		return FileResult{}, fmt.Errorf("%s: %w", path, err)
	}
	out := FileResult{Result: res, Path: path}
	if res.Changed {
		out.Backup, err = replace(path, data, res.Data, mode)
	}
	return out, err
}

func readConfig(path string) ([]byte, fs.FileMode, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read CNI config: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("read CNI config %s: not a regular file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read CNI config: %w", err)
	}
	return data, fi.Mode().Perm(), nil
}

// replace saves old to path's backup, then puts data in place, each atomically.
func replace(path string, old, data []byte, mode fs.FileMode) (backup string, err error) {
	backup = path + BackupSuffix
	if err := writeAtomic(backup, old, mode); err != nil {
		return "", fmt.Errorf("back up %s: %w", path, err)
	}
	if err := writeAtomic(path, data, mode); err != nil {
		return "", err
	}
	return backup, nil
}

// writeAtomic writes data to a temporary file in path's directory, flushes it and renames it over
// path: a runtime reading the directory meanwhile sees the old file or the new one, never a torn one.
// The temporary name ends in .tmp, an extension runtimes do not load.
func writeAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp.Name(), path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
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
