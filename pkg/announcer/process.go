package announcer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
	"github.com/ndp-announce/ndp-announce/pkg/logging"
)

// Subcommand re-executes the plugin's binary as the detached announcer
// process. Runtimes call CNI plugins with no arguments, so it cannot be
// mistaken for a CNI command.
const Subcommand = "__announce"

// The child's inherited descriptors, in ProcAttr.Files order (fd 3 to 7).
const (
	fdState = 3 + iota
	fdARP
	fdICMP6
	fdListen4
	fdListen6
)

// ProcessOptions say where a detached announcer keeps its state and logs.
type ProcessOptions struct {
	DataDir  string
	LogFile  string
	LogLevel slog.Level
	// Listener, if set, is handed to the process too, which runs the job's
	// Listen for as long as its rounds last: a detached process per pod is
	// not kept for a whole listening window.
	Listener *l2disco.Listener
}

// processSpec is everything the detached announcer needs; it travels as one
// JSON argument.
type processSpec struct {
	Job      Job        `json:"job"`
	DataDir  string     `json:"dataDir"`
	LogFile  string     `json:"logFile,omitempty"`
	LogLevel slog.Level `json:"logLevel"`
	HasARP   bool       `json:"hasARP"`
	HasICMP6 bool       `json:"hasICMP6"`
	// HasListen4 and HasListen6: the listener's sockets are fdListen4 and
	// fdListen6.
	HasListen4 bool `json:"hasListen4,omitempty"`
	HasListen6 bool `json:"hasListen6,omitempty"`
}

// Start is the fallback when no node service takes the job: it replaces any
// announcer of the same attachment (a repeated ADD), then starts a detached
// process that inherits the sender's already-open sockets and a locked state
// file, and runs the job. The caller does not wait for it and still owns
// sender. ADD claims the attachment when it starts instead (ClaimAttachment),
// so that a DEL meanwhile wins.
func Start(job Job, sender *l2disco.Sender, o ProcessOptions) (int, error) {
	c := ClaimAttachment(o.DataDir, job.Key, job.NetNS)
	defer c.Release()
	return c.Start(job, sender, o)
}

// spawn starts the detached process with the locked state file and
// duplicates of the sender's sockets as its fds 3-5, and of the listener's,
// if any, as fds 6-7.
func spawn(spec processSpec, state *os.File, sender *l2disco.Sender, listener *l2disco.Listener) (int, error) {
	arpFile, icmpFile, err := sender.Files()
	if err != nil {
		return 0, err
	}
	defer closeFiles(arpFile, icmpFile)
	spec.HasARP, spec.HasICMP6 = arpFile != nil, icmpFile != nil
	var listen4, listen6 *os.File
	if listener != nil && spec.Job.Listen != nil {
		if listen4, listen6, err = listener.Files(); err != nil {
			return 0, err
		}
		defer closeFiles(listen4, listen6)
	} else {
		spec.Job.Listen = nil
	}
	spec.HasListen4, spec.HasListen6 = listen4 != nil, listen6 != nil
	arg, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	// Descriptors the runtime let us inherit (a pipe, say) must not live on in the announcer and hold
	// the runtime up; only the ones listed below go through (dup2 clears close-on-exec).
	markInheritedCloexec()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devNull.Close()
	// syscall.ForkExec rather than os/exec, which forks a throw-away child first to probe for pidfd
	// support: one fork less on the ADD path.
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"ndp-announce", Subcommand, string(arg)}, &syscall.ProcAttr{
		// A small, quiet process: one thread's worth of work and a few KB of garbage. It matters when
		// a node starts fifty pods at once on two CPUs.
		Env: []string{"GOMAXPROCS=1", "GOGC=off"},
		// stdio is /dev/null, so the runtime, which reads our stdout to EOF, is not held up.
		Files: []uintptr{devNull.Fd(), devNull.Fd(), devNull.Fd(), state.Fd(), fdOf(arpFile), fdOf(icmpFile), fdOf(listen4), fdOf(listen6)},
		// Setsid: the runtime may kill the plugin's process group when ADD returns.
		Sys: &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return 0, fmt.Errorf("start background announcer: %w", err)
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

// Main is the detached announcer (the Subcommand): the remaining rounds,
// then it removes its state file and exits. SIGTERM (DEL, GC, a new ADD)
// stops it between or before rounds.
func Main(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "ndp-announce: the announcer is started by ADD, not by hand")
		return 2
	}
	var spec processSpec
	if err := json.Unmarshal([]byte(args[0]), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "ndp-announce: bad announcer spec:", err)
		return 2
	}
	job := spec.Job
	log, closeLog := logging.New(spec.LogFile, spec.LogLevel,
		"cmd", "announcer", "containerID", job.Key.ContainerID, "netns", job.NetNS, "ifname", job.Key.IfName)
	defer closeLog.Close()

	state, err := inheritedState()
	if err != nil {
		log.Error("announcer started without its state file", "err", err)
		return 1
	}
	defer func() {
		// Remove the file while still holding the lock, so nobody reads a finished announcer's PID;
		// only if its name still names it (see stateDir.remove).
		if d, err := openStateDir(spec.DataDir, false); err == nil {
			_ = d.remove(stateName(job.Key), state)
			d.Close()
		}
		state.Close()
	}()
	sender, err := inheritedSender(spec)
	if err != nil {
		log.Error("announcer cannot use its sockets", "err", err)
		return 1
	}
	defer sender.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	start := time.Now()
	defer listenWhileRounds(ctx, spec, sender, start, log)()
	err = job.Run(ctx, sender, log)
	switch {
	case err == nil:
		log.Info("announcer done", "rounds", job.Rounds, "ms", logging.Ms(start))
	case errors.Is(err, context.Canceled):
		log.Info("announcer stopped by signal", "ms", logging.Ms(start))
	default:
		log.Info("announcer stopped early", "reason", err.Error(), "ms", logging.Ms(start))
	}
	return 0
}

// listenWhileRounds starts the job's listener, if it has one, on the
// inherited sockets, and returns the function that stops it (when the
// rounds end) and waits for it.
func listenWhileRounds(ctx context.Context, spec processSpec, sender *l2disco.Sender, start time.Time, log *slog.Logger) func() {
	if spec.Job.Listen == nil || (!spec.HasListen4 && !spec.HasListen6) {
		return func() {}
	}
	var v4, v6 *os.File
	if spec.HasListen4 {
		v4 = os.NewFile(fdListen4, "listen4")
	}
	if spec.HasListen6 {
		v6 = os.NewFile(fdListen6, "listen6")
	}
	ln, err := l2disco.NewListenerFromFiles(v4, v6, spec.Job.IfIndex)
	closeFiles(v4, v6) // the listener keeps its own copies
	if err != nil {
		log.Warn("black-hole listener cannot use its sockets", "err", err)
		return func() {}
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ln.Close()
		rep, err := spec.Job.Watch(wctx, ln, sender, start, log, nil)
		reason := "window ended"
		switch {
		case ctx.Err() != nil:
			reason = "stopped" // by signal: DEL, GC, a new ADD
		case errors.Is(err, context.Canceled):
			reason = "rounds ended"
		case err != nil:
			reason = err.Error()
		}
		log.Info("black-hole listener ended", "report", rep, "reason", reason, "ms", logging.Ms(start))
	}()
	return func() {
		cancel()
		<-done
	}
}

// inheritedState is the locked state file ADD passed as fdState.
func inheritedState() (*os.File, error) {
	path, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fdState))
	if err != nil {
		return nil, err
	}
	return os.NewFile(fdState, path), nil
}

// inheritedSender adopts the sockets ADD passed as fdARP and fdICMP6.
func inheritedSender(spec processSpec) (*l2disco.Sender, error) {
	var arpFile, icmpFile *os.File
	if spec.HasARP {
		arpFile = os.NewFile(fdARP, "arp")
	}
	if spec.HasICMP6 {
		icmpFile = os.NewFile(fdICMP6, "icmp6")
	}
	defer closeFiles(arpFile, icmpFile) // the sender keeps its own copies
	return l2disco.NewSenderFromFiles(arpFile, icmpFile, spec.Job.IfIndex)
}
