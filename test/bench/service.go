package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/handoff"
)

// The node service (ndp-announce daemon) beside a lab: the ndp-announce-service setup's ADDs hand
// their rounds to it instead of forking an announcer each.

const daemonBinary = "ndp-announce-daemon"

// service is one running ndp-announce-daemon on one dataDir.
type service struct {
	cmd  *exec.Cmd
	done chan error
	log  string
}

// startService runs the service on dataDir (no metrics listener: the lab's loopback is not ours
// to bind) and returns once its socket answers.
func startService(binDirs, dataDir string) (*service, error) {
	bin, err := findInPath(binDirs, daemonBinary)
	if err != nil {
		return nil, fmt.Errorf("%w (make build builds it)", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	s := &service{log: dataDir + ".service.log", done: make(chan error, 1)}
	logf, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	s.cmd = exec.Command(bin, "--data-dir", dataDir, "--metrics-address", "")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()
	sock := filepath.Join(dataDir, handoff.SocketName)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("unixpacket", sock); err == nil {
			c.Close()
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("service exited (%v); its log: %s", err, s.log)
		default:
		}
	}
	s.stop()
	return nil, fmt.Errorf("service on %s did not listen within 10s", dataDir)
}

// stop ends the service with SIGTERM, as an operator's stop does.
func (s *service) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return err
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		return fmt.Errorf("service did not stop within 10s of SIGTERM")
	}
}

// procUsage is a process's CPU time (user+system) and resident memory now and at its peak.
type procUsage struct {
	CPUMs, RSSMB, HWMMB float64
}

func usageOf(pid int) (procUsage, error) {
	var u procUsage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	if len(f) < 13 {
		return u, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseFloat(f[11], 64) // utime: field 14 of stat
	st, _ := strconv.ParseFloat(f[12], 64)
	u.CPUMs = (ut + st) * 1000 / 100 // clock ticks of 1/100 s (USER_HZ)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if !ok || err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			u.RSSMB = kb / 1024
		case "VmHWM":
			u.HWMMB = kb / 1024
		}
	}
	return u, nil
}

// services are the ones a lab started, stopped when it closes.
type services struct {
	mu   sync.Mutex
	list []*service
}

func (ss *services) add(s *service) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.list = append(ss.list, s)
}

func (ss *services) stopAll() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var errs []error
	for _, s := range ss.list {
		errs = append(errs, s.stop())
	}
	ss.list = nil
	return errors.Join(errs...)
}

// isServiceFile: the service's own files in a dataDir, which are no attachment's state.
func isServiceFile(name string) bool {
	return name == handoff.SocketName || name == handoff.SocketName+".lock" || name == "handoff-fallbacks"
}
