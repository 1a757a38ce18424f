package rpc

import (
	"errors"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// JSON-RPC 2.0 error codes. The range -32099..-32000 is reserved by the
// specification for implementation-defined server errors; the Code* values
// in that range are this package's.
const (
	CodeParseError     = -32700 // invalid JSON
	CodeInvalidRequest = -32600 // not a valid request object
	CodeMethodNotFound = -32601 // no such method, or a private one
	CodeInvalidParams  = -32602 // params do not fit the method
	CodeInternalError  = -32603 // handler panic or encoding failure

	CodeServerError    = -32000 // a handler returned a plain (non-*Error) error
	CodeCancelled      = -32001 // the request was cancelled (rpc.cancel or close)
	CodeTimeout        = -32002 // the handler's deadline expired
	CodeHandleNotFound = -32003 // rpc.callback on an unknown or released function
	CodeHandleEvicted  = -32004 // rpc.callback on a function evicted by the pending bound
	CodeOverloaded     = -32005 // handler queue full (MaxQueue or MaxQueueBytes)
)

// Error is a JSON-RPC error object. Remote failures arrive as *Error; a
// handler may return one (directly or wrapped) to choose the code, message
// and data sent back.
//
// errors.Is(err, target) reports true when target is an *Error with the same
// Code, so the predeclared values such as ErrMethodNotFound work as sentinels.
type Error struct {
	// Code is the JSON-RPC error code.
	Code int64 `json:"code"`
	// Message is a short description.
	Message string `json:"message"`
	// Data is optional extra information, raw JSON; nil when absent.
	Data jsontext.Value `json:"data,omitempty"`
}

// Predeclared *Error values usable with errors.Is.
var (
	ErrParse          = &Error{Code: CodeParseError, Message: "Parse error"}
	ErrInvalidRequest = &Error{Code: CodeInvalidRequest, Message: "Invalid Request"}
	ErrMethodNotFound = &Error{Code: CodeMethodNotFound, Message: "Method not found"}
	ErrInvalidParams  = &Error{Code: CodeInvalidParams, Message: "Invalid params"}
	ErrInternal       = &Error{Code: CodeInternalError, Message: "Internal error"}
	ErrRemoteCancel   = &Error{Code: CodeCancelled, Message: "Request cancelled"}
	ErrHandleNotFound = &Error{Code: CodeHandleNotFound, Message: "Function handle not found"}
	ErrHandleEvicted  = &Error{Code: CodeHandleEvicted, Message: "Function handle evicted"}
	ErrOverloaded     = &Error{Code: CodeOverloaded, Message: "Server overloaded"}
)

// Error implements error.
func (e *Error) Error() string {
	s := "rpc: remote error " + strconv.FormatInt(e.Code, 10) + ": " + e.Message
	if len(e.Data) > 0 {
		s += " (data: " + string(e.Data) + ")"
	}
	return s
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && e != nil && t.Code == e.Code
}

// Unwrap maps the handle codes to this package's sentinels so that
// errors.Is(err, ErrEvicted) also holds for a remote eviction report.
func (e *Error) Unwrap() error {
	switch e.Code {
	case CodeHandleEvicted:
		return ErrEvicted
	case CodeHandleNotFound:
		return ErrReleased
	}
	return nil
}

// withData returns a copy of e carrying data.
func (e *Error) withData(data jsontext.Value) *Error {
	c := *e
	c.Data = data
	return &c
}

// withMessage returns a copy of e with msg as its message.
func (e *Error) withMessage(msg string) *Error {
	c := *e
	c.Message = msg
	return &c
}

// asError converts any error to an *Error for the wire. A wrapped *Error is
// used as is; anything else becomes CodeServerError with err's text.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e
	}
	return &Error{Code: CodeServerError, Message: err.Error()}
}
