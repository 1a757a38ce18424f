package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// startStorePeer joins the daemon's room through its own signaling server
// and serves the registry on every data channel opened to it.
func (d *daemon) startStorePeer(ctx context.Context) error {
	token := ""
	if len(d.cfg.secret) > 0 {
		// The store peer mints its own publisher token for its room.
		var err error
		if token, err = signaling.NewToken(d.cfg.secret, d.cfg.room, signaling.RolePublisher, 100*365*24*time.Hour); err != nil {
			return err
		}
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

// peerAuth is the peer.auth method: a caller presents a room token, and a
// valid publisher token for the daemon's room lets its connection change
// the store. Without a secret configured every caller may publish.
func (d *daemon) peerAuth(ctx context.Context, token string) (signaling.Role, error) {
	c := rpc.ConnFromContext(ctx)
	if c == nil {
		return "", errors.New("peer.auth needs a connection")
	}
	if len(d.cfg.secret) == 0 {
		c.SetValue(roleKey{}, signaling.RolePublisher)
		return signaling.RolePublisher, nil
	}
	claims, err := signaling.VerifyToken(d.cfg.secret, token, time.Now())
	if err != nil {
		return "", err
	}
	if claims.Room != d.cfg.room {
		return "", fmt.Errorf("token is for room %q, not %q", claims.Room, d.cfg.room)
	}
	c.SetValue(roleKey{}, claims.Role)
	return claims.Role, nil
}
