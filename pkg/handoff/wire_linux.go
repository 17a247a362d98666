package handoff

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
)

// oobSize is room for MaxFiles descriptors and one more, so that a sender passing too many is seen
// as such rather than as truncated control data.
var oobSize = syscall.CmsgSpace((MaxFiles + 1) * 4)

// WriteRequest sends req with files (named in order by req.Files) as one message.
func WriteRequest(c *net.UnixConn, req *Request, files []*os.File) error {
	if len(files) != len(req.Files) {
		return fmt.Errorf("handoff: %d files for %d roles", len(files), len(req.Files))
	}
	b, err := EncodeRequest(req)
	if err != nil {
		return err
	}
	oob := rights(files)
	n, oobn, err := c.WriteMsgUnix(b, oob, nil)
	if err != nil {
		return err
	}
	if n != len(b) || oobn != len(oob) {
		return fmt.Errorf("handoff: short write (%d of %d bytes, %d of %d control)", n, len(b), oobn, len(oob))
	}
	return nil
}

// bufPool holds receive buffers of one maximal request and a byte more (to see it was too big).
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, MaxMessageSize+1)
	return &b
}}

// rights is the SCM_RIGHTS control message passing files, nil for none.
func rights(files []*os.File) []byte {
	if len(files) == 0 {
		return nil
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	return syscall.UnixRights(fds...)
}

// ReadRequest receives one request and the descriptors passed with it, which the caller then owns.
// On any error every received descriptor is already closed.
func ReadRequest(c *net.UnixConn) (*Request, []*os.File, error) {
	// A burst of hand-offs would otherwise leave a 64 KiB buffer of garbage each.
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	oob := make([]byte, oobSize)
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, nil, err
	}
	files, ferr := parseRights(oob[:oobn])
	fail := func(err error) (*Request, []*os.File, error) {
		closeAll(files)
		return nil, nil, err
	}
	switch {
	case ferr != nil:
		return fail(ferr)
	case flags&syscall.MSG_CTRUNC != 0:
		return fail(fmt.Errorf("more than %d descriptors or truncated control data", MaxFiles))
	case flags&syscall.MSG_TRUNC != 0 || n > MaxMessageSize:
		return fail(fmt.Errorf("request larger than %d bytes", MaxMessageSize))
	case n == 0:
		return fail(errors.New("empty request"))
	}
	req, err := DecodeRequest(buf[:n])
	if err != nil {
		return fail(err)
	}
	if len(files) != len(req.Files) {
		return fail(fmt.Errorf("request names %d files and carries %d descriptors", len(req.Files), len(files)))
	}
	return req, files, nil
}

// parseRights turns SCM_RIGHTS control messages into files. Descriptors arrive close-on-exec
// (Go's ReadMsgUnix asks for MSG_CMSG_CLOEXEC).
func parseRights(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control data: %w", err)
	}
	var files []*os.File
	var errs []error
	for _, m := range msgs {
		if m.Header.Level != syscall.SOL_SOCKET || m.Header.Type != syscall.SCM_RIGHTS {
			errs = append(errs, fmt.Errorf("unexpected control message %d/%d", m.Header.Level, m.Header.Type))
			continue
		}
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "handoff-fd"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		closeAll(files)
		return nil, err
	}
	if len(files) > MaxFiles {
		closeAll(files)
		return nil, fmt.Errorf("%d descriptors, at most %d", len(files), MaxFiles)
	}
	return files, nil
}

// WriteReply sends the service's answer.
func WriteReply(c *net.UnixConn, r *Reply) error {
	r.V = Version
	b, err := encodeReply(r)
	if err != nil {
		return err
	}
	_, err = c.Write(b)
	return err
}

// ReadReply receives the service's answer.
func ReadReply(c *net.UnixConn) (*Reply, error) {
	buf := make([]byte, maxReplySize+1)
	n, _, flags, _, err := c.ReadMsgUnix(buf, nil)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errors.New("service closed the connection without a reply")
	}
	if flags&syscall.MSG_TRUNC != 0 || n > maxReplySize {
		return nil, fmt.Errorf("reply larger than %d bytes", maxReplySize)
	}
	return DecodeReply(buf[:n])
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
