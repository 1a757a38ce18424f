package rpc

// pendingNode links a waiting call or a stored callback into the eviction
// order. It is embedded in both, so linking allocates nothing.
type pendingNode struct {
	prev, next *pendingNode
	owner      any // *call or *callback
}

// pendingList is an intrusive doubly linked list, oldest first. The zero
// value is not ready; call init.
type pendingList struct {
	root pendingNode
	n    int
}

func (l *pendingList) init() {
	l.root.prev, l.root.next = &l.root, &l.root
	l.n = 0
}

func (l *pendingList) len() int { return l.n }

func (l *pendingList) pushBack(x *pendingNode) {
	x.prev, x.next = l.root.prev, &l.root
	l.root.prev.next = x
	l.root.prev = x
	l.n++
}

// remove unlinks x; a node not in the list is left alone.
func (l *pendingList) remove(x *pendingNode) {
	if x.next == nil {
		return
	}
	x.prev.next, x.next.prev = x.next, x.prev
	x.prev, x.next = nil, nil
	l.n--
}

// front returns the oldest node, or nil.
func (l *pendingList) front() *pendingNode {
	if l.n == 0 {
		return nil
	}
	return l.root.next
}
