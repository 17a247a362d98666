package conflist

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// span is a JSON value's place in the file: data[Start:End].
type span struct{ Start, End int }

// member is one key of a JSON object and where its value is.
type member struct {
	Key   string
	Value span
}

// objectMembers lists the members of the JSON object at data[s.Start:s.End], in file order, with
// their values' offsets into data. data must have its comments blanked.
func objectMembers(data []byte, s span) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data[s.Start:s.End]))
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key at byte %d is not a string", s.Start+int(dec.InputOffset()))
		}
		v, err := rawSpan(dec, s.Start)
		if err != nil {
			return nil, fmt.Errorf("value of %q: %w", key, err)
		}
		members = append(members, member{Key: key, Value: v})
	}
	return members, expectDelim(dec, '}')
}

// arrayElements lists where each element of the JSON array at data[s.Start:s.End] is.
func arrayElements(data []byte, s span) ([]span, error) {
	dec := json.NewDecoder(bytes.NewReader(data[s.Start:s.End]))
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	var elems []span
	for dec.More() {
		v, err := rawSpan(dec, s.Start)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", len(elems), err)
		}
		elems = append(elems, v)
	}
	return elems, expectDelim(dec, ']')
}

// rawSpan decodes the next value and says where it is: a RawMessage holds the value's exact bytes,
// so it starts len(raw) bytes before the decoder's offset after it.
func rawSpan(dec *json.Decoder, base int) (span, error) {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return span{}, err
	}
	end := base + int(dec.InputOffset())
	return span{Start: end - len(raw), End: end}, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err == io.EOF {
		return fmt.Errorf("unexpected end of JSON, want %q", want)
	}
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("got %v, want %q", tok, want)
	}
	return nil
}

// topLevel finds the single JSON object the file holds (comments and whitespace around it allowed).
func topLevel(blanked []byte) (span, error) {
	if !json.Valid(blanked) {
		// Unmarshal names the problem and its offset; Valid does not.
		var v any
		err := json.Unmarshal(blanked, &v)
		return span{}, fmt.Errorf("not valid JSON: %w", err)
	}
	start := bytes.IndexAny(blanked, "{[\"tfn0123456789-")
	if start < 0 || blanked[start] != '{' {
		return span{}, fmt.Errorf("not a JSON object")
	}
	end := bytes.LastIndexByte(blanked, '}') + 1
	return span{Start: start, End: end}, nil
}

// pluginType reads the "type" of a plugin object, "" when it has none.
func pluginType(obj []byte) string {
	var p struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(obj, &p) != nil {
		return ""
	}
	return p.Type
}

func find(members []member, key string) (member, bool) {
	for _, m := range members {
		if m.Key == key {
			return m, true
		}
	}
	return member{}, false
}
