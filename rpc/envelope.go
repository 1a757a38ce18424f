package rpc

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Kind classifies one decoded JSON-RPC object.
type Kind uint8

// The kinds of Message.
const (
	// KindInvalid is an object that is neither a valid request nor a valid
	// response; Message.Invalid says why and Message.ID holds the id when
	// one could be read.
	KindInvalid Kind = iota
	// KindRequest is a call (ID present) or a notification (ID nil; in the
	// 1.0 form also an id of null).
	KindRequest
	// KindResponse carries Result or Error for ID.
	KindResponse
)

// DefaultMaxBatch is the largest batch ParseEnvelope accepts unless told
// otherwise.
const DefaultMaxBatch = 1000

// Message is one JSON-RPC 2.0 (or 1.0) object as found on the wire. Raw
// members keep their exact bytes, so an id is echoed exactly as received.
type Message struct {
	// Kind says what the object is.
	Kind Kind
	// V1 is true for the JSON-RPC 1.0 form: no "jsonrpc" member, and a
	// "method", "result" or "error" member. It is set on KindInvalid
	// objects too, which are answered in the form they came in.
	V1 bool
	// ID is the raw id (a string, a number or null); nil when absent.
	ID jsontext.Value
	// Method is the method name of a request.
	Method string
	// Params is the raw params (array or object) of a request; nil when
	// absent.
	Params jsontext.Value
	// Result is the raw result of a successful response.
	Result jsontext.Value
	// Error is the error of a failed response.
	Error *Error
	// Invalid tells why a KindInvalid object was rejected; it is the error
	// object to answer with.
	Invalid *Error
}

// IsNotification reports whether m is a request that expects no response.
func (m *Message) IsNotification() bool {
	if m.Kind != KindRequest {
		return false
	}
	if m.V1 {
		return m.ID == nil || isNull(m.ID)
	}
	return m.ID == nil
}

// Envelope is one parsed transport message: a single object or a batch.
type Envelope struct {
	// Batch is true when the message was a JSON array.
	Batch bool
	// Msgs holds the objects in order (one unless Batch).
	Msgs []Message
}

// wireMsg is the decoding shape of one object. jsontext.Value fields keep
// the raw bytes and tell an absent member (nil) from null ("null").
type wireMsg struct {
	JSONRPC jsontext.Value `json:"jsonrpc"`
	ID      jsontext.Value `json:"id"`
	Method  jsontext.Value `json:"method"`
	Params  jsontext.Value `json:"params"`
	Result  jsontext.Value `json:"result"`
	Error   jsontext.Value `json:"error"`
}

// ParseEnvelope decodes one transport message. It fails only when the whole
// message is unusable: invalid JSON (an *Error with CodeParseError), an empty
// batch or a batch over maxBatch elements (CodeInvalidRequest); maxBatch <= 0
// means DefaultMaxBatch. Objects that are not valid requests or responses
// come back as KindInvalid messages so that a batch can answer each one.
//
// The raw members of the returned messages alias b, which must not be
// modified while they are in use.
func ParseEnvelope(b []byte, maxBatch int) (Envelope, error) {
	return parseEnvelope(nil, b, maxBatch)
}

// parseEnvelope is ParseEnvelope appending the messages to dst[:0].
func parseEnvelope(dst []Message, b []byte, maxBatch int) (Envelope, error) {
	if maxBatch <= 0 {
		maxBatch = DefaultMaxBatch
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	if len(b) == 0 {
		return Envelope{}, ErrParse
	}
	if b[0] == '{' {
		if w, ok := scanMessage(b); ok {
			return Envelope{Msgs: append(dst[:0], w.message())}, nil
		}
	}
	return parseEnvelopeSlow(dst, b, maxBatch)
}

// parseEnvelopeSlow is parseEnvelope with the jsontext decoder, for what
// scanMessage leaves; b is trimmed and not empty.
func parseEnvelopeSlow(dst []Message, b []byte, maxBatch int) (Envelope, error) {
	p := getParser(b)
	defer p.release()
	switch b[0] {
	case '{':
		var w wireMsg
		if err := p.object(&w); err != nil || !p.atEOF() {
			return Envelope{}, ErrParse
		}
		return Envelope{Msgs: append(dst[:0], w.message())}, nil
	case '[':
		if _, err := p.dec.ReadToken(); err != nil {
			return Envelope{}, ErrParse
		}
		env := Envelope{Batch: true, Msgs: dst[:0]}
		tooMany := false
		for p.dec.PeekKind() != ']' {
			if len(env.Msgs) >= maxBatch {
				tooMany = true
				if err := p.dec.SkipValue(); err != nil {
					return Envelope{}, ErrParse
				}
				continue
			}
			if p.dec.PeekKind() != '{' {
				if err := p.dec.SkipValue(); err != nil {
					return Envelope{}, ErrParse
				}
				env.Msgs = append(env.Msgs, Message{Kind: KindInvalid, Invalid: ErrInvalidRequest})
				continue
			}
			var w wireMsg
			if err := p.object(&w); err != nil {
				return Envelope{}, ErrParse
			}
			env.Msgs = append(env.Msgs, w.message())
		}
		if _, err := p.dec.ReadToken(); err != nil || !p.atEOF() {
			return Envelope{}, ErrParse
		}
		if len(env.Msgs) == 0 {
			return Envelope{}, ErrInvalidRequest
		}
		if tooMany {
			return Envelope{}, ErrInvalidRequest.withMessage("Invalid Request: batch exceeds " + strconv.Itoa(maxBatch))
		}
		return env, nil
	default:
		if _, err := p.dec.ReadValue(); err != nil || !p.atEOF() {
			return Envelope{}, ErrParse
		}
		return Envelope{Msgs: append(dst[:0], Message{Kind: KindInvalid, Invalid: ErrInvalidRequest})}, nil
	}
}

// parser is a pooled decoder reading straight from the input bytes (a
// bytes.Buffer source lets jsontext parse in place, without copying).
type parser struct {
	dec *jsontext.Decoder
	bb  bytes.Buffer
}

var (
	emptyBuffer = new(bytes.Buffer)
	parserPool  = sync.Pool{New: func() any { return &parser{dec: jsontext.NewDecoder(emptyBuffer)} }}
)

// getParser returns a pooled parser reading b.
func getParser(b []byte) *parser {
	p := parserPool.Get().(*parser)
	p.bb = *bytes.NewBuffer(b)
	p.dec.Reset(&p.bb)
	return p
}

func (p *parser) release() {
	if p.bb.Cap() > 64<<10 {
		// Drop the reference to a large input; a small one may stay
		// referenced until the parser's next use (Reset is not free).
		p.dec.Reset(emptyBuffer)
		p.bb = bytes.Buffer{}
	}
	parserPool.Put(p)
}

// atEOF reports whether only whitespace is left.
func (p *parser) atEOF() bool {
	_, err := p.dec.ReadToken()
	return err == io.EOF
}

// object reads one JSON object into w; member values alias the input.
// Unknown members are skipped; duplicate names are a syntax error.
func (p *parser) object(w *wireMsg) error {
	if _, err := p.dec.ReadToken(); err != nil {
		return err
	}
	for p.dec.PeekKind() != '}' {
		name, err := p.dec.ReadToken()
		if err != nil {
			return err
		}
		var dst *jsontext.Value
		switch name.String() {
		case "jsonrpc":
			dst = &w.JSONRPC
		case "id":
			dst = &w.ID
		case "method":
			dst = &w.Method
		case "params":
			dst = &w.Params
		case "result":
			dst = &w.Result
		case "error":
			dst = &w.Error
		}
		v, err := p.dec.ReadValue()
		if err != nil {
			return err
		}
		if dst != nil {
			*dst = v
		}
	}
	_, err := p.dec.ReadToken()
	return err
}

func isNull(v jsontext.Value) bool { return len(v) == 4 && string(v) == "null" }

// validID reports whether v is a string, a number or null.
func validID(v jsontext.Value) bool {
	switch v.Kind() {
	case '"', '0', 'n':
		return true
	}
	return false
}

// message validates w and classifies it.
func (w *wireMsg) message() Message {
	// An object without "jsonrpc" is in the 1.0 form when it has a member
	// only JSON-RPC messages have; one with none of them ({"foo":"boo"})
	// is just invalid, and answered in the 2.0 form.
	m := Message{V1: w.JSONRPC == nil && (w.Method != nil || w.Result != nil || w.Error != nil)}
	if w.JSONRPC != nil && string(w.JSONRPC) != `"2.0"` {
		return Message{Kind: KindInvalid, Invalid: ErrInvalidRequest, ID: idIfValid(w.ID)}
	}
	if w.ID != nil {
		if !validID(w.ID) {
			return Message{Kind: KindInvalid, V1: m.V1, Invalid: ErrInvalidRequest}
		}
		m.ID = w.ID
	}
	switch {
	case w.Method != nil:
		if w.Method.Kind() != '"' || w.Result != nil || w.Error != nil {
			return Message{Kind: KindInvalid, V1: m.V1, Invalid: ErrInvalidRequest, ID: m.ID}
		}
		name, ok := internMethod(w.Method)
		if !ok {
			if name, ok = unquote(w.Method); !ok {
				return Message{Kind: KindInvalid, V1: m.V1, Invalid: ErrInvalidRequest, ID: m.ID}
			}
		}
		if w.Params != nil {
			k := w.Params.Kind()
			if k != '[' && k != '{' && !(m.V1 && k == 'n') {
				return Message{Kind: KindInvalid, V1: m.V1, Invalid: ErrInvalidRequest, ID: m.ID}
			}
			if k != 'n' {
				m.Params = w.Params
			}
		}
		m.Kind = KindRequest
		m.Method = name
		return m
	case w.Result != nil || w.Error != nil:
		if m.ID == nil {
			return Message{Kind: KindInvalid, V1: m.V1, Invalid: ErrInvalidRequest}
		}
		if w.Error != nil && !isNull(w.Error) {
			if w.Result != nil && !(m.V1 && isNull(w.Result)) {
				return Message{Kind: KindInvalid, V1: m.V1, Invalid: ErrInvalidRequest, ID: m.ID}
			}
			var e Error
			if err := json.Unmarshal(w.Error, &e); err != nil {
				e = Error{Code: CodeInternalError, Message: "malformed error object", Data: w.Error}
			}
			m.Error = &e
		} else {
			if w.Result == nil {
				return Message{Kind: KindInvalid, V1: m.V1, Invalid: ErrInvalidRequest, ID: m.ID}
			}
			m.Result = w.Result
		}
		m.Kind = KindResponse
		return m
	}
	return Message{Kind: KindInvalid, V1: m.V1, Invalid: ErrInvalidRequest, ID: m.ID}
}

// unquote decodes a JSON string; kept apart so that the common path's
// result does not escape to the heap.
func unquote(raw jsontext.Value) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func idIfValid(v jsontext.Value) jsontext.Value {
	if v != nil && validID(v) {
		return v
	}
	return nil
}

// AppendRequest appends a request object to dst: a call when id is non-nil,
// a notification when id is nil. params must be a JSON array or object, or
// nil to omit the member. The method name is quoted here.
func AppendRequest(dst []byte, id jsontext.Value, method string, params jsontext.Value) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","method":`...)
	dst = appendString(dst, method)
	if params != nil {
		dst = append(dst, `,"params":`...)
		dst = append(dst, params...)
	}
	if id != nil {
		dst = append(dst, `,"id":`...)
		dst = append(dst, id...)
	}
	return append(dst, '}')
}

// AppendResponse appends a response object to dst: an error response when e
// is non-nil, otherwise a result (nil result means null). v1 selects the
// JSON-RPC 1.0 form, which always carries result, error and id. A nil id is
// written as null.
func AppendResponse(dst []byte, v1 bool, id, result jsontext.Value, e *Error) []byte {
	if dst == nil {
		dst = make([]byte, 0, len(id)+len(result)+48)
	}
	if result == nil {
		result = jsontext.Value("null")
	}
	if id == nil {
		id = jsontext.Value("null")
	}
	if v1 {
		dst = append(dst, `{"result":`...)
		if e != nil {
			dst = append(dst, `null,"error":`...)
			dst = appendError(dst, e)
		} else {
			dst = append(dst, result...)
			dst = append(dst, `,"error":null`...)
		}
	} else {
		dst = append(dst, `{"jsonrpc":"2.0",`...)
		if e != nil {
			dst = append(dst, `"error":`...)
			dst = appendError(dst, e)
		} else {
			dst = append(dst, `"result":`...)
			dst = append(dst, result...)
		}
	}
	dst = append(dst, `,"id":`...)
	dst = append(dst, id...)
	return append(dst, '}')
}

func appendError(dst []byte, e *Error) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, e.Code, 10)
	dst = append(dst, `,"message":`...)
	dst = appendString(dst, e.Message)
	if len(e.Data) > 0 && jsontext.Value(e.Data).IsValid() {
		dst = append(dst, `,"data":`...)
		dst = append(dst, e.Data...)
	}
	return append(dst, '}')
}

// appendString appends s as a JSON string; invalid UTF-8 is replaced.
func appendString(dst []byte, s string) []byte {
	// AppendQuote only fails on invalid UTF-8, which it still writes with
	// replacement characters, so the error carries nothing to act on.
	out, _ := jsontext.AppendQuote(dst, s)
	return out
}

// String renders m in its wire form, for debugging.
func (m *Message) String() string {
	switch m.Kind {
	case KindRequest:
		return string(AppendRequest(nil, m.ID, m.Method, m.Params))
	case KindResponse:
		return string(AppendResponse(nil, m.V1, m.ID, m.Result, m.Error))
	}
	return fmt.Sprintf("invalid(%v)", m.Invalid)
}

// Method names repeat: keep up to maxInterned of them so that parsing a
// request does not allocate its name.
const maxInterned = 4096

var (
	// internMu serializes additions to interned.
	internMu sync.Mutex
	// interned holds a map that is never modified once published: an
	// addition publishes a copy, so lookups take no lock.
	interned atomic.Pointer[map[string]string]
)

// internMethod returns the name in a quoted JSON string without escapes,
// interned; ok is false for other strings.
func internMethod(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' || len(raw) > 130 {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c < 0x20 || c == '\\' || c == '"' || c >= 0x80 {
			return "", false
		}
	}
	if m := interned.Load(); m != nil {
		if s, ok := (*m)[string(body)]; ok {
			return s, true
		}
	}
	s := string(body)
	internMu.Lock()
	defer internMu.Unlock()
	old := interned.Load()
	if old != nil {
		if prev, ok := (*old)[s]; ok {
			return prev, true
		}
		if len(*old) >= maxInterned {
			return s, true
		}
	}
	next := make(map[string]string, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[s] = s
	interned.Store(&next)
	return s, true
}

func lenOf(m *map[string]string) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
