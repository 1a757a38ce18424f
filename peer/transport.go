package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/datachannel"
	"github.com/pion/sctp"
	"github.com/pion/webrtc/v4"

	"github.com/peerd/peerd/binchannel"
)

var _ binchannel.Transport = (*dcTransport)(nil)

// initialReadBuffer is the first size of the detached read buffer; it grows
// by doubling up to the receive limit when a larger message arrives, and a
// buffer handed over with a message is replaced by one of the size that
// message needed, so that a stream of large messages costs one allocation
// each rather than a failed read and a discarded buffer per doubling.
const initialReadBuffer = 64 << 10

// dcTransport is a binchannel.Transport over one reliable, ordered Pion
// data channel.
//
// Concurrency: one goroutine may call WriteMessage and one ReadMessage at a
// time, concurrently with each other; MaxMessageSize, Close and closeWith
// are safe from any goroutine.
type dcTransport struct {
	dc  *webrtc.DataChannel
	rwc datachannel.ReadWriteCloserDeadliner // nil in OnMessage mode
	// msgs carries messages from Pion's OnMessage callback (OnMessage mode
	// only). Unbuffered: the callback blocks until a reader takes the
	// message, which stalls Pion's read loop and closes the SCTP window.
	msgs chan []byte

	maxSize   int    // largest message we send
	recvLimit int    // largest message we accept (what we advertised)
	high, low uint64 // backpressure watermarks

	lowCh   chan struct{} // OnBufferedAmountLow tokens, capacity 1
	closed  chan struct{} // closed once by closeWith
	once    sync.Once
	closing atomic.Bool // set by drain; new writes fail
	// drainReads, set before closed is closed, lets reads return what
	// already arrived before they report the close (a remote that closed
	// gracefully sent it before going).
	drainReads atomic.Bool

	errMu sync.Mutex // guards err
	err   error      // why the transport closed

	// onFail is told once when a read or write fails on its own (remote
	// close, protocol violation); the connection then closes.
	onFail func(error)
	onRead func(int) // Options.onRead

	// readsDone is closed when a read has failed other than by its
	// context: the reader has taken everything it will get.
	readsDone chan struct{}
	readsOnce sync.Once

	readBuf  []byte // detached read scratch; used by the reading goroutine only
	readSize int    // size of the next read buffer made (0: initialReadBuffer)

	pool sync.Pool // *[]byte scratch for concatenating parts
}

func newDCTransport(dc *webrtc.DataChannel, rwc datachannel.ReadWriteCloserDeadliner,
	o Options, maxSize int, onFail func(error),
) *dcTransport {
	t := &dcTransport{
		dc:        dc,
		rwc:       rwc,
		maxSize:   maxSize,
		recvLimit: o.MaxMessageSize,
		high:      uint64(o.HighWatermark), //nolint:gosec // positive after defaults
		low:       uint64(o.LowWatermark),  //nolint:gosec
		lowCh:     make(chan struct{}, 1),
		closed:    make(chan struct{}),
		onFail:    onFail,
		onRead:    o.onRead,
		readsDone: make(chan struct{}),
	}
	dc.SetBufferedAmountLowThreshold(t.low)
	dc.OnBufferedAmountLow(func() {
		select {
		case t.lowCh <- struct{}{}:
		default:
		}
	})
	if rwc == nil {
		t.msgs = make(chan []byte)
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			select {
			case t.msgs <- m.Data:
			case <-t.closed:
			}
		})
		dc.OnClose(func() { t.fail(ErrRemoteClosed) })
	}

	return t
}

// MaxMessageSize reports the negotiated limit (see effectiveMaxMessageSize).
func (t *dcTransport) MaxMessageSize() int { return t.maxSize }

// WriteMessage sends the concatenation of parts as one data channel message.
// It waits while more than the high watermark is queued, until ctx is done.
func (t *dcTransport) WriteMessage(ctx context.Context, parts ...[]byte) error {
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	if total > t.maxSize {
		return fmt.Errorf("%w (%w): %d > %d bytes", ErrMessageTooLarge, binchannel.ErrMessageTooLarge, total, t.maxSize)
	}
	if err := t.waitWritable(ctx); err != nil {
		return err
	}

	var msg []byte
	var scratch *[]byte
	switch len(parts) {
	case 0:
	case 1:
		msg = parts[0]
	default:
		// Pion copies the payload into SCTP chunks before returning, so a
		// pooled scratch buffer can be reused right after the write.
		scratch = t.getScratch(total)
		for _, p := range parts {
			*scratch = append(*scratch, p...)
		}
		msg = *scratch
	}

	var err error
	if t.rwc != nil {
		_, err = t.rwc.WriteDataChannel(msg, false)
	} else {
		err = t.dc.Send(msg)
	}
	if scratch != nil {
		t.putScratch(scratch)
	}
	if err != nil {
		return t.ioError(err)
	}

	return nil
}

func (t *dcTransport) getScratch(n int) *[]byte {
	if p, ok := t.pool.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:0]

		return p
	}
	b := make([]byte, 0, n)

	return &b
}

func (t *dcTransport) putScratch(p *[]byte) {
	*p = (*p)[:0]
	t.pool.Put(p)
}

// waitWritable blocks while the channel's queue is above the high watermark.
func (t *dcTransport) waitWritable(ctx context.Context) error {
	for {
		select {
		case <-t.closed:
			return t.closedError()
		default:
		}
		if t.closing.Load() {
			return fmt.Errorf("%w: draining", ErrClosed)
		}
		if t.dc.BufferedAmount() <= t.high {
			return nil
		}
		select {
		case <-t.lowCh:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.closed:
			return t.closedError()
		}
	}
}

// ReadMessage returns the next message in one fresh buffer.
func (t *dcTransport) ReadMessage(ctx context.Context) ([][]byte, error) {
	m, err := t.readMessage(ctx)
	if err != nil && ctx.Err() == nil {
		t.readsOnce.Do(func() { close(t.readsDone) })
	}

	return m, err
}

func (t *dcTransport) readMessage(ctx context.Context) ([][]byte, error) {
	select {
	case <-t.closed:
		if !t.drainReads.Load() {
			return nil, t.closedError()
		}
		if t.rwc == nil {
			select {
			case msg := <-t.msgs:
				return [][]byte{msg}, nil
			default:
				return nil, t.closedError()
			}
		}
		// Detached: the read deadline is already past, so the read
		// returns what Pion holds and then the close.
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		msg []byte
		err error
	)
	if t.rwc == nil {
		select {
		case msg = <-t.msgs:
		case <-t.closed:
			return nil, t.closedError()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	} else {
		msg, err = t.readDetached(ctx)
		if err != nil {
			return nil, err
		}
	}
	if t.onRead != nil {
		t.onRead(len(msg))
	}

	return [][]byte{msg}, nil
}

// readDetached reads one message from the detached channel. ctx and Close
// interrupt a waiting read through the read deadline; no message is lost,
// because SCTP only hands a message out whole.
func (t *dcTransport) readDetached(ctx context.Context) ([]byte, error) {
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = t.rwc.SetReadDeadline(time.Now()) })
		defer func() {
			if !stop() {
				// The deadline was (or is being) set for this ctx; a stale
				// deadline seen by a later read is retried below.
				_ = t.rwc.SetReadDeadline(time.Time{})
			}
		}()
	}
	for {
		if t.readBuf == nil {
			size := t.readSize
			if size == 0 {
				size = initialReadBuffer
			}
			t.readBuf = make([]byte, min(size, t.recvLimit))
		}
		n, _, err := t.rwc.ReadDataChannel(t.readBuf)
		switch {
		case err == nil:
			return t.takeMessage(n), nil
		case errors.Is(err, io.ErrShortBuffer):
			if len(t.readBuf) >= t.recvLimit {
				perr := fmt.Errorf("%w: incoming message above the advertised %d bytes", ErrProtocol, t.recvLimit)
				t.fail(perr)

				return nil, t.closedError()
			}
			t.readBuf = make([]byte, min(2*len(t.readBuf), t.recvLimit))
		case errors.Is(err, sctp.ErrReadDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
			select {
			case <-t.closed:
				return nil, t.closedError()
			default:
			}
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			// A deadline left over from an earlier ctx: clear and retry.
			_ = t.rwc.SetReadDeadline(time.Time{})
		default:
			return nil, t.ioError(err)
		}
	}
}

// takeMessage returns the first n bytes of the read buffer as a buffer the
// caller owns. A message filling at least half the buffer takes the buffer
// itself (no copy; a new one is made for the next read); a smaller one is
// copied out so no message pins much more memory than its size.
func (t *dcTransport) takeMessage(n int) []byte {
	if n >= len(t.readBuf)/2 && n > 0 {
		msg := t.readBuf[:n:n]
		t.readSize = len(t.readBuf)
		t.readBuf = nil

		return msg
	}
	msg := make([]byte, n)
	copy(msg, t.readBuf[:n])

	return msg
}

// ioError maps an error from Pion to the transport's close cause: once the
// transport is closed, its cause; io.EOF (the remote reset the stream) and
// other failures close the transport and report.
func (t *dcTransport) ioError(err error) error {
	select {
	case <-t.closed:
		return t.closedError()
	default:
	}
	if errors.Is(err, io.EOF) {
		t.fail(ErrRemoteClosed)
	} else {
		t.fail(fmt.Errorf("%w: data channel: %w", ErrRemoteClosed, err))
	}

	return t.closedError()
}

// fail closes the transport with cause and tells the connection.
func (t *dcTransport) fail(cause error) {
	if t.closeWith(cause) && t.onFail != nil {
		t.onFail(cause)
	}
}

// closeWith closes the transport once, recording cause; it reports whether
// this call closed it. It does not close the Pion channel (the connection
// owns it) but wakes every waiting read and write.
func (t *dcTransport) closeWith(cause error) bool {
	return t.close(cause, false)
}

// closeAfterReads is closeWith for a remote that closed gracefully: writes
// fail at once, but reads first return the messages that already arrived
// (a last notification sent just before the close, say), then the close.
// It never waits for more to arrive.
func (t *dcTransport) closeAfterReads(cause error) bool {
	return t.close(cause, true)
}

func (t *dcTransport) close(cause error, drainReads bool) bool {
	first := false
	t.once.Do(func() {
		t.drainReads.Store(drainReads)
		first = true
		t.errMu.Lock()
		t.err = cause
		t.errMu.Unlock()
		close(t.closed)
		if t.rwc != nil {
			_ = t.rwc.SetReadDeadline(time.Now())
		}
	})

	return first
}

func (t *dcTransport) closedError() error {
	t.errMu.Lock()
	defer t.errMu.Unlock()

	return t.err
}

// Close closes the transport with ErrClosed. It does not drain; the
// connection's Close does.
func (t *dcTransport) Close() error {
	t.fail(ErrClosed)

	return nil
}

// drain stops new writes and waits until the channel's queue is empty (all
// data acknowledged by the remote SCTP stack) or ctx is done.
func (t *dcTransport) drain(ctx context.Context) error {
	t.closing.Store(true)
	t.dc.SetBufferedAmountLowThreshold(0)
	for t.dc.BufferedAmount() > 0 {
		select {
		case <-t.lowCh:
		case <-t.closed:
			return t.closedError()
		case <-ctx.Done():
			return fmt.Errorf("peer: drain: %w", ctx.Err())
		}
	}

	return nil
}
