package signaling

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/peerd/peerd/rpc"
)

// Method names of the signaling protocol (docs/PROTOCOL.md section 6).
const (
	methodJoin  = "signal.join"  // client -> server call
	methodSend  = "signal.send"  // client -> server call
	methodLeave = "signal.leave" // client -> server call
	methodEvent = "signal.event" // server -> client notification
)

// serverAPI serves the client-to-server methods on every connection.
type serverAPI struct {
	s   *Server
	reg *rpc.Registry
}

func newServerAPI(s *Server) *serverAPI {
	a := &serverAPI{s: s, reg: rpc.NewRegistry()}
	must := func(err error) {
		if err != nil {
			panic(err) // the signatures below are fixed: a failure is a bug here
		}
	}
	must(a.reg.Register(methodJoin, a.join))
	must(a.reg.Register(methodSend, a.send))
	must(a.reg.Register(methodLeave, a.leave))
	return a
}

// conn returns the connection serving ctx's request.
func (a *serverAPI) conn(ctx context.Context) (*serverConn, error) {
	rc := rpc.ConnFromContext(ctx)
	if rc == nil {
		return nil, errors.New("signaling: no connection in context")
	}
	c, _ := rc.Value(sessionKey{}).(*serverConn)
	if c == nil {
		return nil, errors.New("signaling: connection not ready")
	}
	return c, nil
}

// begin finds the connection and charges the request to its bucket.
func (a *serverAPI) begin(ctx context.Context) (*serverConn, error) {
	c, err := a.conn(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.sess.allow(a.s.opts.Clock()); err != nil {
		return nil, a.fail(err)
	}
	return c, nil
}

func (a *serverAPI) join(ctx context.Context, p joinParams) (JoinResult, error) {
	c, err := a.begin(ctx)
	if err != nil {
		return JoinResult{}, err
	}
	if err := validRoom(p.Room); err != nil {
		return JoinResult{}, a.fail(err)
	}
	if p.Role != "" && !p.Role.Valid() {
		return JoinResult{}, a.fail(fmt.Errorf("%w: unknown role %q", ErrBadRequest, p.Role))
	}
	role, err := a.authorize(ctx, c, p)
	if err != nil {
		return JoinResult{}, a.fail(err)
	}
	res, err := a.s.hub.join(c.sess, p.Room, role)
	if err != nil {
		return JoinResult{}, a.fail(err)
	}
	a.s.opts.Logger.Debug("signaling: joined", "room", p.Room, "peer", res.ID, "role", role, "remote", c.addr)
	return res, nil
}

// authorize decides the role a join gets.
func (a *serverAPI) authorize(ctx context.Context, c *serverConn, p joinParams) (Role, error) {
	o := &a.s.opts
	switch {
	case o.Authorize != nil:
		req := c.sess.auth
		req.Room, req.Role, req.Token = p.Room, p.Role, p.Token
		role, err := o.Authorize(ctx, req)
		if err != nil {
			if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden) {
				return "", err
			}
			return "", fmt.Errorf("%w: %v", ErrForbidden, err)
		}
		if !role.Valid() || (p.Role != "" && p.Role != role) {
			return "", fmt.Errorf("%w: role %q not granted", ErrForbidden, p.Role)
		}
		return role, nil
	case len(o.Secret) > 0:
		if p.Token == "" {
			return "", fmt.Errorf("%w: token required", ErrUnauthorized)
		}
		claims, err := VerifyToken(o.Secret, p.Token, o.Clock())
		if err != nil {
			return "", err
		}
		role := p.Role
		if role == "" {
			role = claims.Role
		}
		return role, claims.Allow(p.Room, role)
	default:
		if p.Role == "" {
			return RolePublisher, nil
		}
		return p.Role, nil
	}
}

func (a *serverAPI) send(ctx context.Context, p sendParams) error {
	c, err := a.begin(ctx)
	if err != nil {
		return err
	}
	if p.To == "" || len(p.To) > 64 {
		return a.fail(fmt.Errorf("%w: \"to\" must be a peer id", ErrBadRequest))
	}
	if len(p.Payload) == 0 {
		return a.fail(fmt.Errorf("%w: \"payload\" is required", ErrBadRequest))
	}
	return a.fail(a.s.hub.relay(c.sess, p.To, p.Payload))
}

func (a *serverAPI) leave(ctx context.Context) error {
	c, err := a.begin(ctx)
	if err != nil {
		return err
	}
	return a.fail(a.s.hub.leave(c.sess, ReasonLeft))
}

// fail counts err and turns it into the JSON-RPC error sent to the client:
// code from the table in errors.go, message err's text, data
// {"kind": "..."}.
func (a *serverAPI) fail(err error) error {
	if err == nil {
		return nil
	}
	code, kind, ok := classify(err)
	if !ok {
		a.s.stats.addError("internal")
		return err
	}
	a.s.stats.addError(kind)
	return &rpc.Error{Code: int64(code), Message: err.Error(), Data: jsontext.Value(`{"kind":` + strconv.Quote(kind) + `}`)}
}
