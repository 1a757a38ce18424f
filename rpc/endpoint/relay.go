package endpoint

import (
	"context"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/rpc"
)

// Relay serves name on reg by forwarding each call to remoteName on remote
// (an *rpc.Conn to a private peer, or a *Client), so that a public endpoint
// can expose a method that runs elsewhere. The params are forwarded exactly
// as received, positional or named, without being decoded; the remote
// result comes back unchanged and a remote *rpc.Error is answered with the
// same code, message and data. The request's context bounds the remote
// call, so a cancelled request cancels it.
//
// A remote that is not a RawCaller gets positional params element by
// element, and named params are answered with -32602.
func Relay(reg *rpc.Registry, name string, remote Caller, remoteName string) error {
	if remote == nil {
		return fmt.Errorf("%w: relay %s: nil remote", rpc.ErrBadMethod, name)
	}
	return reg.RegisterMethod(name, RelayMethod(remote, remoteName))
}

// RelayMethod returns the Method Relay registers, for use with a routing
// hook (rpc.Registry.SetRouter). It returns nil when remote is nil.
func RelayMethod(remote Caller, remoteName string) *rpc.Method {
	if remote == nil {
		return nil
	}
	if rc, ok := remote.(RawCaller); ok {
		return rpc.NewRawMethod(func(ctx context.Context, params jsontext.Value) (jsontext.Value, error) {
			return rc.CallRaw(ctx, remoteName, params)
		})
	}
	m, err := rpc.NewMethod(RelayFunc(remote, remoteName))
	if err != nil {
		return nil // cannot happen: RelayFunc's shape is fixed
	}
	return m
}

// RelayFunc returns a handler that forwards positional params element by
// element with Call, for a remote that is only a Caller; RelayMethod is
// the better choice for a routing hook.
func RelayFunc(remote Caller, remoteName string) func(ctx context.Context, args ...jsontext.Value) (jsontext.Value, error) {
	return func(ctx context.Context, args ...jsontext.Value) (jsontext.Value, error) {
		anyArgs := make([]any, len(args))
		for i, a := range args {
			anyArgs[i] = a
		}
		var out jsontext.Value
		if err := remote.Call(ctx, remoteName, &out, anyArgs...); err != nil {
			return nil, err
		}
		if out == nil {
			out = jsontext.Value("null")
		}
		return out, nil
	}
}
