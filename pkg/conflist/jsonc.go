package conflist

import "fmt"

// blankComments returns a copy of data with every `//` and `/* */` comment outside strings replaced
// by spaces (newlines kept), so that offsets into the copy are offsets into data and encoding/json
// can parse the copy. found says whether there was any comment.
func blankComments(data []byte) (out []byte, found bool, err error) {
	out = append([]byte(nil), data...)
	inString, escaped := false, false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			found = true
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			found = true
			start := i
			out[i], out[i+1] = ' ', ' '
			for i += 2; ; i++ {
				if i+1 >= len(out) {
					return nil, false, fmt.Errorf("comment opened at byte %d is never closed", start)
				}
				if out[i] == '*' && out[i+1] == '/' {
					out[i], out[i+1] = ' ', ' '
					i++
					break
				}
				if out[i] != '\n' {
					out[i] = ' '
				}
			}
		}
	}
	return out, found, nil
}
