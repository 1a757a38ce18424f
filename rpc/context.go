package rpc

import "context"

type connKey struct{}

// ConnFromContext returns the Conn serving the handler that received ctx,
// or nil. A handler uses it to call the other side back.
func ConnFromContext(ctx context.Context) *Conn {
	c, _ := ctx.Value(connKey{}).(*Conn)
	return c
}

// SetValue stores a per-connection session value under key (nil val
// deletes it). Safe for concurrent use.
func (c *Conn) SetValue(key, val any) {
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	if val == nil {
		delete(c.session, key)
		return
	}
	if c.session == nil {
		c.session = make(map[any]any)
	}
	c.session[key] = val
}

// Value returns the session value stored under key, or nil.
func (c *Conn) Value(key any) any {
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	return c.session[key]
}
