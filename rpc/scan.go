package rpc

import (
	"unicode/utf8"
)

// scanMessage is ParseEnvelope's fast path for the usual transport message:
// one JSON object, leading whitespace already trimmed. It validates the
// whole input as the jsontext decoder does and returns the members that
// matter, aliasing b. It gives up (ok false, and the caller parses again
// with the decoder, which also produces the errors) on anything outside the
// plain cases it checks exactly: \u escapes, object member names with
// escapes, objects with more than scanMaxNames members, nesting deeper than
// scanMaxDepth, and every kind of invalid input.
//
// A differential fuzz target (FuzzScanMessage) holds it to the decoder's
// answers.
func scanMessage(b []byte) (w wireMsg, ok bool) {
	s := scanner{b: b}
	if !s.object(1, &w) {
		return wireMsg{}, false
	}
	s.ws()
	if s.i != len(s.b) {
		return wireMsg{}, false
	}
	return w, true
}

const (
	scanMaxDepth = 64
	scanMaxNames = 16
)

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// object reads an object at s.i. With top set, it is the message itself
// and its JSON-RPC members are stored there.
func (s *scanner) object(depth int, top *wireMsg) bool {
	if depth > scanMaxDepth || s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	var names [scanMaxNames][]byte
	n := 0
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		name, escaped, ok := s.str()
		if !ok || escaped || n == scanMaxNames {
			return false
		}
		for _, prev := range names[:n] {
			if string(prev) == string(name) {
				return false // duplicate: the decoder reports it
			}
		}
		names[n] = name
		n++
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.ws()
		start := s.i
		if !s.value(depth) {
			return false
		}
		if top != nil {
			v := s.b[start:s.i:s.i]
			switch string(name) {
			case "jsonrpc":
				top.JSONRPC = v
			case "id":
				top.ID = v
			case "method":
				top.Method = v
			case "params":
				top.Params = v
			case "result":
				top.Result = v
			case "error":
				top.Error = v
			}
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *scanner) array(depth int) bool {
	if depth > scanMaxDepth {
		return false
	}
	s.i++ // '['
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	for {
		if !s.value(depth) {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// value reads one value at s.i (no leading whitespace).
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, _, ok := s.str()
		return ok
	case c == '{':
		return s.object(depth+1, nil)
	case c == '[':
		return s.array(depth + 1)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i >= len(s.b):
		return false
	case s.b[s.i] == '0':
		s.i++
	case s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

// str reads a string at s.i and returns its body (between the quotes) and
// whether it holds escapes. \u escapes are left to the decoder.
func (s *scanner) str() (body []byte, escaped, ok bool) {
	s.i++ // opening quote
	start := s.i
	ascii := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			body = s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(body) {
				return nil, false, false
			}
			return body, escaped, true
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, false, false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			default:
				return nil, false, false
			}
			escaped = true
			s.i += 2
		case c < 0x20:
			return nil, false, false
		default:
			if c >= 0x80 {
				ascii = false
			}
			s.i++
		}
	}
	return nil, false, false
}

// splitArray appends the elements of the JSON array b to dst. Like
// scanMessage, it gives up (ok false) where the decoder must decide. It
// repeats array's loop on purpose: collecting through the recursive array
// makes the caller's stack buffer escape (one more allocation per call).
func splitArray(b []byte, dst [][]byte) (els [][]byte, ok bool) {
	s := scanner{b: b}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return nil, false
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
	} else {
		for {
			start := s.i
			if !s.value(1) {
				return nil, false
			}
			dst = append(dst, s.b[start:s.i:s.i])
			s.ws()
			if s.i >= len(s.b) {
				return nil, false
			}
			if s.b[s.i] == ']' {
				s.i++
				break
			}
			if s.b[s.i] != ',' {
				return nil, false
			}
			s.i++
			s.ws()
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, false
	}
	return dst, true
}
