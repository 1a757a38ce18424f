package rpc

func (c *Conn) discoverMethod() *Method {
	m, _ := NewMethod(func() any { return nil })
	return m
}
