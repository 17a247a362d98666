package handoff

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// DefaultTimeout bounds a whole exchange (connect, send, reply): ADD waits no longer for a service
// before it falls back, and DEL no longer before it carries on without it.
const DefaultTimeout = 50 * time.Millisecond

// Why an exchange failed; the caller falls back and logs the error.
var (
	// ErrNoService: no socket, or nobody listening on it (a service that is down or restarting).
	ErrNoService = errors.New("no service listening")
	// ErrTimeout: the service did not answer within the bound.
	ErrTimeout = errors.New("service did not answer in time")
	// ErrRefused: the service answered no (its reason follows).
	ErrRefused = errors.New("service refused")
)

// A Client talks to the service at Path.
type Client struct {
	Path    string
	Timeout time.Duration // whole exchange; DefaultTimeout when zero
	// Release, if set, runs once the request is sent, before the reply: there the caller lets go
	// of files it will not need whatever the reply (a report's sockets), so that the service's
	// copies are the last and the service, not the caller, waits for their close.
	Release func()
}

// Do sends req with files and waits for the reply. The files stay the caller's: once Do returns
// nil the service holds its own copies, and the caller closes its own.
func (c *Client) Do(req *Request, files []*os.File) (*Reply, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	req.V = Version
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()

	var d net.Dialer
	conn, err := d.DialContext(ctx, "unixpacket", c.Path)
	if err != nil {
		return nil, c.wrap("connect", err)
	}
	uc := conn.(*net.UnixConn)
	defer uc.Close()
	if err := uc.SetDeadline(deadline); err != nil {
		return nil, c.wrap("connect", err)
	}
	if err := WriteRequest(uc, req, files); err != nil {
		return nil, c.wrap("send", err)
	}
	if c.Release != nil {
		c.Release()
	}
	rep, err := ReadReply(uc)
	if err != nil {
		return nil, c.wrap("reply", err)
	}
	if !rep.OK {
		return rep, fmt.Errorf("%w: %s", ErrRefused, rep.Error)
	}
	return rep, nil
}

// wrap classifies err so that the log line reads "fallback: no service listening: ...".
func (c *Client) wrap(stage string, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("%w on %s", ErrNoService, c.Path)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w (%s, bound %v)", ErrTimeout, stage, c.timeout())
	case errors.Is(err, syscall.EAGAIN):
		// A unix socket's full backlog: the service is flooded.
		return fmt.Errorf("%w: %s: backlog full", ErrRefused, stage)
	}
	return fmt.Errorf("%s %s: %w", stage, c.Path, err)
}

func (c *Client) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}
