package handoff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrVersion is a request in a protocol version the service does not speak.
var ErrVersion = errors.New("unsupported protocol version")

// maxReplySize bounds a reply: a few fields and an error message.
const maxReplySize = 4096

// EncodeRequest is the JSON header of req, checked against the size limit.
func EncodeRequest(req *Request) ([]byte, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("handoff: encode %s request: %w", req.Kind, err)
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("handoff: %s request is %d bytes, at most %d", req.Kind, len(b), MaxMessageSize)
	}
	return b, nil
}

// DecodeRequest decodes and validates a request header. The version is read first, leniently, so
// that a request of another version is refused as such (ErrVersion) and not as unknown fields.
func DecodeRequest(b []byte) (*Request, error) {
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("request of %d bytes, at most %d", len(b), MaxMessageSize)
	}
	var peek struct {
		V int `json:"v"`
	}
	if err := json.Unmarshal(b, &peek); err != nil {
		return nil, fmt.Errorf("request is not a JSON object: %w", err)
	}
	if peek.V != Version {
		return nil, fmt.Errorf("%w %d (this service speaks %d)", ErrVersion, peek.V, Version)
	}
	var req Request
	if err := decodeStrict(b, &req); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	return &req, nil
}

// DecodeReply decodes a service's reply.
func DecodeReply(b []byte) (*Reply, error) {
	var r Reply
	if err := decodeStrict(b, &r); err != nil {
		return nil, fmt.Errorf("reply: %w", err)
	}
	return &r, nil
}

// decodeStrict refuses unknown fields and anything after the one JSON value.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON object")
	}
	return nil
}

// encodeReply marshals r, shortening its error message to fit the reply limit.
func encodeReply(r *Reply) ([]byte, error) {
	if len(r.Error) > maxReplySize/2 {
		r.Error = r.Error[:maxReplySize/2] + "..."
	}
	return json.Marshal(r)
}
