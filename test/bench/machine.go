package main

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Results is everything one `make bench` measured.
type Results struct {
	Machine  Machine       `json:"machine"`
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
	P1Cap    time.Duration `json:"p1Cap"`
	P1       []P1Run       `json:"p1,omitempty"`
	P2       *P2Result     `json:"p2,omitempty"`
	P3       *P3Result     `json:"p3,omitempty"`
	P4       *P4Result     `json:"p4,omitempty"`
	P5       *P5Result     `json:"p5,omitempty"`
}

// Machine says where the figures come from.
type Machine struct {
	CPU        string `json:"cpu"`
	CPUs       int    `json:"cpus"`
	MemoryMB   int    `json:"memoryMB"`
	OS         string `json:"os"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	Plugin     string `json:"plugin"`     // ndp-announce's own about line
	RefPlugins string `json:"refPlugins"` // module version of the reference bridge binary
	Libcni     string `json:"libcni"`
	// The 1, 5 and 15 minute load averages when the run started and ended: the CPUs are shared, and
	// a busy machine stretches every wall time.
	LoadStart string `json:"loadStart,omitempty"`
	LoadEnd   string `json:"loadEnd,omitempty"`
}

// loadAvg is /proc/loadavg's three averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

func describeMachine(plugin, binDirs, driver string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAvg()}
	m.CPU = firstField("/proc/cpuinfo", "model name")
	if kb := firstField("/proc/meminfo", "MemTotal"); kb != "" {
		var n int
		for _, c := range strings.Fields(kb)[0] {
			n = n*10 + int(c-'0')
		}
		m.MemoryMB = n / 1024
	}
	m.OS = strings.Trim(firstField("/etc/os-release", "PRETTY_NAME"), `"`)
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
	}
	// ndp-announce prints its about line (with the version the Makefile stamped) when run bare.
	cmd := exec.Command(plugin)
	cmd.Env = []string{}
	out, _ := cmd.CombinedOutput()
	m.Plugin = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	if p, err := findInPath(binDirs, "bridge"); err == nil {
		if bi, err := buildinfo.ReadFile(p); err == nil {
			m.RefPlugins = "containernetworking/plugins " + bi.Main.Version
		}
	}
	if bi, err := buildinfo.ReadFile(driver); err == nil {
		for _, d := range bi.Deps {
			if d.Path == "github.com/containernetworking/cni" {
				m.Libcni = "containernetworking/cni " + d.Version + " (test/cnidriver)"
			}
		}
	}
	return m
}

// firstField returns the value of the first "key: value" or "key=value" line of a file.
func firstField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, key) {
			continue
		}
		rest := strings.TrimSpace(line[len(key):])
		rest = strings.TrimPrefix(rest, ":")
		rest = strings.TrimPrefix(rest, "=")
		return strings.TrimSpace(rest)
	}
	return ""
}
