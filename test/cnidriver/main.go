// Command cnidriver runs a CNI network configuration list through libcni for
// the integration lab: like cnitool, but with an explicit cache directory so
// tests never write /var/lib/cni, and with every input given as a flag.
//
// Usage:
//
//	cnidriver add|del|check|status|gc --conflist FILE --bin-dir DIR[:DIR...]
//	    --cache-dir DIR [--netns PATH --ifname IF --container-id ID]
//	    [--runtime-config JSON] [--args 'K=V;K2=V2'] [--valid-attachments JSON]
//
// ADD prints the result on stdout. Any failure is printed on stderr; the exit
// status is the CNI error code when the failure carries one that fits in an
// exit status (1-254), 255 otherwise (including code 999), 64 for bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

const (
	exitOther = 255 // an error without a CNI code that fits in an exit status
	exitUsage = 64  // EX_USAGE: not a CNI error code, so tests can tell them apart
)

// options are the parsed command line.
type options struct {
	command          string
	conflist         string
	binDirs          []string
	cacheDir         string
	netns            string
	ifname           string
	containerID      string
	runtimeConfig    map[string]interface{}
	args             [][2]string
	validAttachments []types.GCAttachment
	timeout          time.Duration
}

// usageError marks errors in the command line itself.
type usageError struct{ error }

func main() {
	opts, err := parseArgs(os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cnidriver: %v\n", err)
		os.Exit(exitUsage)
	}
	if err := run(opts, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "cnidriver: %s: %v\n", opts.command, err)
		os.Exit(exitCode(err))
	}
}

// exitCode maps an error to the process exit status: the CNI code when the
// error chain carries one that an exit status can represent.
func exitCode(err error) int {
	var cniErr *types.Error
	if errors.As(err, &cniErr) && cniErr.Code > 0 && cniErr.Code < exitOther {
		return int(cniErr.Code)
	}
	return exitOther
}

func parseArgs(argv []string, stderr io.Writer) (*options, error) {
	if len(argv) == 0 {
		return nil, usageError{errors.New("missing command (add, del, check, status, gc)")}
	}
	opts := &options{command: argv[0]}
	switch opts.command {
	case "add", "del", "check", "status", "gc":
	default:
		return nil, usageError{fmt.Errorf("unknown command %q (want add, del, check, status, gc)", opts.command)}
	}

	fs := flag.NewFlagSet("cnidriver "+opts.command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var binDir, runtimeConfig, cniArgs, validAttachments string
	fs.StringVar(&opts.conflist, "conflist", "", "network configuration list `file`")
	fs.StringVar(&binDir, "bin-dir", "", "plugin directories, colon-separated")
	fs.StringVar(&opts.cacheDir, "cache-dir", "", "libcni cache `dir` (never /var/lib/cni in tests)")
	fs.StringVar(&opts.netns, "netns", "", "container netns `path`, e.g. /run/netns/NAME")
	fs.StringVar(&opts.ifname, "ifname", "eth0", "container interface `name`")
	fs.StringVar(&opts.containerID, "container-id", "", "container `id`")
	fs.StringVar(&runtimeConfig, "runtime-config", "", `capability args as a JSON object, e.g. {"ips":["198.51.100.50/24"]}`)
	fs.StringVar(&cniArgs, "args", "", "CNI_ARGS as `K=V;K2=V2`")
	fs.StringVar(&validAttachments, "valid-attachments", "[]", `gc: JSON list of {"containerID":...,"ifname":...} to keep`)
	fs.DurationVar(&opts.timeout, "timeout", 60*time.Second, "give up on the whole operation after this long")
	if err := fs.Parse(argv[1:]); err != nil {
		return nil, usageError{err}
	}
	if fs.NArg() != 0 {
		return nil, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}

	// An empty cache dir would make libcni fall back to /var/lib/cni.
	required := map[string]string{"--conflist": opts.conflist, "--bin-dir": binDir, "--cache-dir": opts.cacheDir}
	if opts.command == "add" || opts.command == "del" || opts.command == "check" {
		required["--container-id"] = opts.containerID
		required["--ifname"] = opts.ifname
	}
	for name, value := range required {
		if value == "" {
			return nil, usageError{fmt.Errorf("%s is required for %s", name, opts.command)}
		}
	}
	if !filepath.IsAbs(opts.cacheDir) {
		return nil, usageError{fmt.Errorf("--cache-dir %q must be absolute", opts.cacheDir)}
	}
	opts.binDirs = filepath.SplitList(binDir)

	if runtimeConfig != "" {
		if err := json.Unmarshal([]byte(runtimeConfig), &opts.runtimeConfig); err != nil {
			return nil, usageError{fmt.Errorf("--runtime-config: want a JSON object: %w", err)}
		}
	}
	args, err := parseCNIArgs(cniArgs)
	if err != nil {
		return nil, usageError{err}
	}
	opts.args = args
	if err := json.Unmarshal([]byte(validAttachments), &opts.validAttachments); err != nil {
		return nil, usageError{fmt.Errorf("--valid-attachments: want a JSON list: %w", err)}
	}
	return opts, nil
}

// parseCNIArgs splits "K=V;K2=V2" the way runtimes build CNI_ARGS.
func parseCNIArgs(s string) ([][2]string, error) {
	var args [][2]string
	for _, pair := range strings.Split(s, ";") {
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--args: %q is not K=V", pair)
		}
		args = append(args, [2]string{k, v})
	}
	return args, nil
}

func run(opts *options, stdout io.Writer) error {
	list, err := libcni.NetworkConfFromFile(opts.conflist)
	if err != nil {
		return fmt.Errorf("load conflist %s: %w", opts.conflist, err)
	}
	cni := libcni.NewCNIConfigWithCacheDir(opts.binDirs, opts.cacheDir, nil)
	rt := &libcni.RuntimeConf{
		ContainerID:    opts.containerID,
		NetNS:          opts.netns,
		IfName:         opts.ifname,
		Args:           opts.args,
		CapabilityArgs: opts.runtimeConfig,
	}

	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()

	switch opts.command {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			return err
		}
		return result.PrintTo(stdout)
	case "del":
		return cni.DelNetworkList(ctx, list, rt)
	case "check":
		return cni.CheckNetworkList(ctx, list, rt)
	case "status":
		return cni.GetStatusNetworkList(ctx, list)
	case "gc":
		return cni.GCNetworkList(ctx, list, &libcni.GCArgs{ValidAttachments: opts.validAttachments})
	}
	return usageError{fmt.Errorf("unknown command %q", opts.command)}
}
