package endpoint

import (
	"context"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/rpc"
)

// Relay serves name on reg by forwarding each call to remoteName on remote
// (an *rpc.Conn to a private peer, or a *Client), so that a public endpoint
// can expose a method that runs elsewhere. Positional params are forwarded
// as received, element by element, without being decoded; the remote
// result comes back unchanged and a remote *rpc.Error is answered with the
// same code, message and data. The request's context bounds the remote
// call, so a cancelled request cancels it.
//
// Named params (a JSON object) are answered with -32602: the rpc Method
// adapter offers no way to take the params object raw.
func Relay(reg *rpc.Registry, name string, remote Caller, remoteName string) error {
	if remote == nil {
		return fmt.Errorf("%w: relay %s: nil remote", rpc.ErrBadMethod, name)
	}
	return reg.Register(name, RelayFunc(remote, remoteName))
}

// RelayFunc returns the handler Relay registers, for use with a routing
// hook (rpc.Registry.SetRouter with rpc.NewMethod).
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
