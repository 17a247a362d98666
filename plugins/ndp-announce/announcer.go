package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// announceSubcommand re-executes this binary as the detached background announcer. Runtimes call
// CNI plugins with no arguments, so it cannot be mistaken for a CNI command.
const announceSubcommand = "__announce"

// The child's inherited descriptors, in exec.Cmd.ExtraFiles order (fd 3, 4, 5).
const (
	fdState = 3 + iota
	fdARP
	fdICMP6
)

// announcerSpec is everything the background announcer needs; it travels as one JSON argument.
type announcerSpec struct {
	attachmentKey
	NetNS    string          `json:"netns"`
	IfIndex  int             `json:"ifIndex"`
	MAC      string          `json:"mac"`
	Targets  l2disco.Targets `json:"targets"`
	NoMcast  bool            `json:"noMcastRoute"`
	Rounds   int             `json:"rounds"`
	Interval time.Duration   `json:"interval"`
	DataDir  string          `json:"dataDir"`
	LogFile  string          `json:"logFile,omitempty"`
	LogLevel string          `json:"logLevel,omitempty"`
	HasARP   bool            `json:"hasARP"`
	HasICMP6 bool            `json:"hasICMP6"`
}

// startAnnouncer replaces any announcer of the same attachment (a repeated ADD), then starts a new one
// that inherits the sender's already-open sockets and the locked state file. ADD does not wait for it.
func startAnnouncer(spec announcerSpec, sender *l2disco.Sender) (int, error) {
	if err := ensureDataDir(spec.DataDir); err != nil {
		return 0, err
	}
	path := statePath(spec.DataDir, spec.attachmentKey)
	if err := stopAnnouncer(path, time.Second); err != nil {
		return 0, err
	}
	state, err := createState(path)
	if err != nil {
		return 0, err
	}
	defer state.Close()

	arpFile, icmpFile, err := sender.Files()
	if err != nil {
		os.Remove(path)
		return 0, err
	}
	defer closeFiles(arpFile, icmpFile)
	spec.HasARP, spec.HasICMP6 = arpFile != nil, icmpFile != nil
	arg, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	// Descriptors the runtime let us inherit (a pipe, say) must not live on in the announcer and hold
	// the runtime up; only the ones listed below go through (dup2 clears close-on-exec).
	markInheritedCloexec()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		os.Remove(path)
		return 0, err
	}
	defer devNull.Close()
	// syscall.ForkExec rather than os/exec, which forks a throw-away child first to probe for pidfd
	// support: one fork less on the ADD path.
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"ndp-announce", announceSubcommand, string(arg)}, &syscall.ProcAttr{
		// A small, quiet process: one thread's worth of work and a few KB of garbage. It matters when
		// a node starts fifty pods at once on two CPUs.
		Env: []string{"GOMAXPROCS=1", "GOGC=off"},
		// stdio is /dev/null, so the runtime, which reads our stdout to EOF, is not held up.
		Files: []uintptr{devNull.Fd(), devNull.Fd(), devNull.Fd(), state.Fd(), fdOf(arpFile), fdOf(icmpFile)},
		// Setsid: the runtime may kill the plugin's process group when ADD returns.
		Sys: &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		os.Remove(path)
		return 0, fmt.Errorf("start background announcer: %w", err)
	}
	// Its next round is a second away: let pods being created now have the CPU first.
	_ = unix.Setpriority(unix.PRIO_PROCESS, pid, announcerNice)
	pidns, _ := pidNamespace()
	if err := writeState(state, stateRecord{
		attachmentKey: spec.attachmentKey, NetNS: spec.NetNS, PID: pid, PIDNS: pidns, Started: time.Now().UTC(),
	}); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		os.Remove(path)
		return 0, err
	}
	return pid, nil
}

// announcerNice is the announcer's scheduling niceness: its sends are a second apart and a few
// milliseconds of delay change nothing, while ADDs of other pods wait for the CPU.
const announcerNice = 10

// fdOf is f's descriptor for syscall.ProcAttr.Files, or "closed in the child" for nil.
func fdOf(f *os.File) uintptr {
	if f == nil {
		return ^uintptr(0)
	}
	return f.Fd()
}

// markInheritedCloexec sets close-on-exec on every descriptor above stderr: with one call from Linux
// 5.11, one per open descriptor before.
func markInheritedCloexec() {
	if unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

func closeFiles(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// announceMain is the background announcer: the remaining rounds, then it removes its state file and
// exits. SIGTERM (DEL, GC, a new ADD) stops it between or before rounds.
func announceMain(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "ndp-announce: the announcer is started by ADD, not by hand")
		return 2
	}
	var spec announcerSpec
	if err := json.Unmarshal([]byte(args[0]), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "ndp-announce: bad announcer spec:", err)
		return 2
	}
	level, _ := parseLevel(spec.LogLevel)
	log, closeLog := newLogger(spec.LogFile, level,
		"cmd", "announcer", "containerID", spec.ContainerID, "netns", spec.NetNS, "ifname", spec.IfName)
	defer closeLog.Close()

	statePath, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fdState))
	if err != nil {
		log.Error("announcer started without its state file", "err", err)
		return 1
	}
	state := os.NewFile(fdState, statePath)
	defer func() {
		// Remove the file while still holding the lock, so nobody reads a finished announcer's PID.
		os.Remove(statePath)
		state.Close()
	}()

	var arpFile, icmpFile *os.File
	if spec.HasARP {
		arpFile = os.NewFile(fdARP, "arp")
	}
	if spec.HasICMP6 {
		icmpFile = os.NewFile(fdICMP6, "icmp6")
	}
	sender, err := l2disco.NewSenderFromFiles(arpFile, icmpFile, spec.IfIndex)
	closeFiles(arpFile, icmpFile) // the sender keeps its own copies
	if err != nil {
		log.Error("announcer cannot use its sockets", "err", err)
		return 1
	}
	defer sender.Close()
	mac, err := net.ParseMAC(spec.MAC)
	if err != nil {
		log.Error("announcer spec has a bad MAC", "mac", spec.MAC, "err", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ann := &l2disco.Announcer{
		Sender:       sender,
		MAC:          mac,
		Targets:      spec.Targets,
		NoMcastRoute: spec.NoMcast,
		NetNSPath:    spec.NetNS,
		Logger:       log,
	}
	start := time.Now()
	err = ann.Run(ctx, spec.Rounds, spec.Interval)
	switch {
	case err == nil:
		log.Info("announcer done", "rounds", spec.Rounds, "ms", msSince(start))
	case errors.Is(err, context.Canceled):
		log.Info("announcer stopped by signal", "ms", msSince(start))
	default:
		log.Info("announcer stopped early", "reason", err.Error(), "ms", msSince(start))
	}
	return 0
}
