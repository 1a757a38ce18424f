package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/peerd/peerd/cmd/peerd/store"
	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// startStorePeer joins the daemon's room through its own signaling server
// and serves the registry on every data channel opened to it.
func (d *daemon) startStorePeer(ctx context.Context) error {
	// With a secret, the store peer mints its own publisher token.
	token, err := d.auth().selfToken()
	if err != nil {
		return err
	}
	stop, err := listenRoom(context.WithoutCancel(ctx), d.signalURL, d.cfg.room, token, d.reg, func(c *rpc.Conn, open bool) {
		if open {
			d.addPeer(c)
		} else {
			d.removePeer(c)
		}
	})
	if err != nil {
		return err
	}
	d.stopPeer = stop
	return nil
}

func (d *daemon) stopStorePeer(ctx context.Context) error {
	if d.stopPeer == nil {
		return nil
	}
	return d.stopPeer(ctx)
}

// storeAuth decides who may change a store peer's bundles. With a secret
// (the signaling server's), a caller must first present, through peer.auth,
// a publisher token for the store peer's room; without one, every caller may.
// The daemon and `peerd serve` both use it.
type storeAuth struct {
	secret []byte
	room   string
}

// roleKey is the rpc.Conn value holding the caller's signaling role.
type roleKey struct{}

// errNeedPublisher is what a caller without a publisher token gets for a
// call that changes the store.
var errNeedPublisher = errors.New("publishing and deleting require a publisher token (--token)")

// authorize is store.Service.Authorize: with a secret configured, changes
// need the caller's connection to carry a publisher role.
func (a storeAuth) authorize(ctx context.Context, write bool) error {
	if !write || len(a.secret) == 0 {
		return nil
	}
	if c := rpc.ConnFromContext(ctx); c != nil {
		if role, _ := c.Value(roleKey{}).(signaling.Role); role == signaling.RolePublisher {
			return nil
		}
	}
	return errNeedPublisher
}

// peerAuth is the peer.auth method: a caller presents a room token, and a
// valid publisher token for the store peer's room lets its connection change
// the store. Without a secret configured every caller may publish.
func (a storeAuth) peerAuth(ctx context.Context, token string) (signaling.Role, error) {
	c := rpc.ConnFromContext(ctx)
	if c == nil {
		return "", errors.New("peer.auth needs a connection")
	}
	if len(a.secret) == 0 {
		c.SetValue(roleKey{}, signaling.RolePublisher)
		return signaling.RolePublisher, nil
	}
	claims, err := signaling.VerifyToken(a.secret, token, time.Now())
	if err != nil {
		return "", err
	}
	if claims.Room != a.room {
		return "", fmt.Errorf("token is for room %q, not %q", claims.Room, a.room)
	}
	c.SetValue(roleKey{}, claims.Role)
	return claims.Role, nil
}

// selfToken is the token a store peer joins its room with when it holds the
// secret and was given no token: a publisher token it mints itself.
func (a storeAuth) selfToken() (string, error) {
	if len(a.secret) == 0 {
		return "", nil
	}
	return signaling.NewToken(a.secret, a.room, signaling.RolePublisher, 100*365*24*time.Hour)
}

// newStoreRegistry builds a store peer's rpc methods (see newRegistry) with
// the store's changes vetted by auth and peer.auth to present a token.
func newStoreRegistry(st *store.Store, auth storeAuth, started time.Time, httpBase string) (*rpc.Registry, error) {
	reg, err := newRegistry(&store.Service{Store: st, Authorize: auth.authorize}, started, httpBase)
	if err != nil {
		return nil, err
	}
	if err := reg.Register("peer.auth", auth.peerAuth, "token"); err != nil {
		return nil, err
	}
	return reg, nil
}
