package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/config"
)

// Defaults of Options.
const (
	DefaultDataDir        = config.DefaultDataDir // the plugin finds the service with no config
	DefaultMaxAttachments = 4096
	DefaultMaxConnections = 64
	// connTimeout bounds one connection: a client that connects and says nothing frees its slot.
	connTimeout = time.Second
)

// Options configure a Daemon.
type Options struct {
	DataDir string
	// MetricsAddress is where /metrics and /healthz are served (host:port); empty serves none.
	MetricsAddress string
	// MaxAttachments bounds the jobs in flight; a hand-off beyond it is refused (ADD falls back).
	MaxAttachments int
	// MaxConnections bounds the connections served at once; more are closed at once.
	MaxConnections int
	Logger         *slog.Logger
}

// Daemon is the node service.
type Daemon struct {
	opts      Options
	log       *slog.Logger
	metrics   *metrics
	jobs      *registry
	closer    *closer
	sock      *socket
	conns     chan struct{} // semaphore of MaxConnections
	httpSrv   *http.Server
	httpLn    net.Listener
	wg        sync.WaitGroup
	netnsOnce sync.Once
}

// New prepares the data dir, takes the socket (or fails: another service runs) and the metrics
// address. Serve runs it.
func New(opts Options) (*Daemon, error) {
	if opts.DataDir == "" {
		opts.DataDir = DefaultDataDir
	}
	if opts.MaxAttachments <= 0 {
		opts.MaxAttachments = DefaultMaxAttachments
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{
		opts:    opts,
		log:     opts.Logger,
		metrics: newMetrics(opts.DataDir),
		closer:  newCloser(4, opts.MaxAttachments+opts.MaxConnections),
		conns:   make(chan struct{}, opts.MaxConnections),
	}
	d.jobs = newRegistry(opts.MaxAttachments, func(n int) { d.metrics.attachments.Set(float64(n)) })
	var err error
	if d.sock, err = listen(opts.DataDir); err != nil {
		return nil, err
	}
	if opts.MetricsAddress != "" {
		if d.httpLn, err = net.Listen("tcp", opts.MetricsAddress); err != nil {
			d.sock.Close()
			return nil, fmt.Errorf("metrics address %s: %w", opts.MetricsAddress, err)
		}
		d.httpSrv = &http.Server{Handler: d.httpHandler(), ReadHeaderTimeout: 5 * time.Second}
	}
	return d, nil
}

// SocketPath is where the service listens.
func (d *Daemon) SocketPath() string { return d.sock.path }

// MetricsAddr is the address metrics are served on (nil without).
func (d *Daemon) MetricsAddr() net.Addr {
	if d.httpLn == nil {
		return nil
	}
	return d.httpLn.Addr()
}

// Serve runs until ctx is done, then stops every job, closes their sockets and removes the socket.
func (d *Daemon) Serve(ctx context.Context) error {
	d.log.Info("service listening", "socket", d.sock.path, "metrics", addrString(d.MetricsAddr()),
		"maxAttachments", d.opts.MaxAttachments, "maxConnections", d.opts.MaxConnections)
	if d.httpSrv != nil {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := d.httpSrv.Serve(d.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("metrics server failed", "err", err)
			}
		}()
	}
	acceptErr := make(chan error, 1)
	go func() { acceptErr <- d.acceptLoop() }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-acceptErr:
	}
	d.shutdown()
	return err
}

func (d *Daemon) shutdown() {
	d.sock.Close()
	keys := d.jobs.close()
	if len(keys) > 0 {
		// The remaining rounds of these attachments are lost; their ADDs and DELs are not.
		d.log.Warn("stopping with rounds left", "attachments", len(keys))
	}
	if d.httpSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		d.httpSrv.Shutdown(sctx)
		cancel()
	}
	d.wg.Wait()
	d.closer.drain()
	d.log.Info("service stopped")
}

func (d *Daemon) acceptLoop() error {
	for {
		c, err := d.sock.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			// EMFILE and friends: back off instead of spinning, and keep serving.
			d.log.Warn("accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		select {
		case d.conns <- struct{}{}:
		default:
			// Flooded: a quick close makes the client fall back now rather than at its bound.
			c.Close()
			continue
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer func() { <-d.conns }()
			d.serveConn(c)
		}()
	}
}

func (d *Daemon) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttpHandler(d.metrics))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	return mux
}

func addrString(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return a.String()
}
