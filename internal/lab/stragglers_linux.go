package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// StopStragglers stops every process whose network namespace is one of
// netnsPaths (bind-mounted namespaces such as /run/netns/NAME) and describes
// each, one string per process. A lab's namespaces are its own, so whatever
// still runs in them at cleanup was started by the lab (a plugin's background
// process that DEL did not stop, say): a leak for the caller to report.
// Each gets SIGTERM, then SIGKILL once grace has passed. Processes are held by
// pidfd, so a PID reused meanwhile is never signalled. The calling process is
// skipped. Namespaces that no longer exist are ignored.
func StopStragglers(netnsPaths []string, grace time.Duration) []string {
	ours := map[string]string{} // "net:[inode]" -> path
	for _, p := range netnsPaths {
		if link, err := nsLink(p); err == nil {
			ours[link] = p
		}
	}
	if len(ours) == 0 {
		return nil
	}
	var found []string
	var held []int
	for _, pid := range pidsInNetNS(ours) {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone already
		}
		// Check again through the pidfd's process: the PID may have been reused
		// between the scan and PidfdOpen.
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil || ours[link] == "" || zombie(pid) {
			unix.Close(fd)
			continue
		}
		found = append(found, fmt.Sprintf("pid %d (%s) in %s", pid, cmdline(pid), ours[link]))
		_ = unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0)
		held = append(held, fd)
	}
	killAfter(held, grace)
	return found
}

// pidsInNetNS lists the processes (not this one) whose netns is in ours.
func pidsInNetNS(ours map[string]string) []int {
	self := os.Getpid()
	links, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	var pids []int
	for _, l := range links {
		pid, err := strconv.Atoi(strings.Split(l, "/")[2])
		if err != nil || pid == self {
			continue
		}
		if target, err := os.Readlink(l); err == nil && ours[target] != "" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killAfter waits up to grace for every pidfd to report its process exited,
// SIGKILLs those that did not, and closes them all.
func killAfter(fds []int, grace time.Duration) {
	deadline := time.Now().Add(grace)
	for _, fd := range fds {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			left := time.Until(deadline)
			if left < 0 {
				left = 0
			}
			n, err := unix.Poll(pfd, int(left.Milliseconds()))
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if n == 0 || err != nil {
				_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
			}
			break
		}
		unix.Close(fd)
	}
}

// zombie: the process has exited and waits for its parent (this machine's
// PID 1 reaps orphans late) — nothing left to stop.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold anything
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}

// nsLink gives "net:[inode]", the form /proc/PID/ns/net links read as.
func nsLink(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", err
	}
	return fmt.Sprintf("net:[%d]", st.Ino), nil
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	s := string(bytes.TrimRight(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), " "))
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}
