package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
)

// TestMain dispatches the announcer subcommand as main does, before the tests' flags are parsed:
// announcer.Start re-executes /proc/self/exe, here this test binary, so ADD's background rounds
// run for real. Once all tests ran, it fails the run if they left a netns or a process behind.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == announcer.Subcommand {
		os.Exit(announcer.Main(os.Args[2:]))
	}
	code := m.Run()
	if left := leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the tests left %s behind\n", strings.Join(left, ", "))
		code = 1
	}
	os.Exit(code)
}

// The binary's VERSION, through main and skel as a runtime calls it, lists every spec version with
// chaining: the ones the command tests run.
func TestMainVersion(t *testing.T) {
	t.Setenv("CNI_COMMAND", "VERSION")
	oldArgs, oldStdout := os.Args, os.Stdout
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	os.Args, os.Stdout = []string{"ndp-announce"}, w
	main()
	os.Args, os.Stdout = oldArgs, oldStdout
	w.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		SupportedVersions []string `json:"supportedVersions"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("VERSION printed %q: %v", out, err)
	}
	if want := chainingVersions(); !reflect.DeepEqual(info.SupportedVersions, want) {
		t.Errorf("VERSION lists %v, want %v", info.SupportedVersions, want)
	}
}
