package rpc

import (
	"context"
	"sync"

	"github.com/peerd/peerd/binchannel"
)

// Transport carries packets between the two ends of a Conn. A
// *binchannel.Channel satisfies it directly; NewStreamTransport adapts a
// plain JSON message stream and NewPipe gives an in-memory pair.
//
// Concurrency: a Conn calls SendPacket from many goroutines at once (the
// transport must keep each packet whole and in order), RecvPacket from one
// goroutine at a time, and Close from any goroutine; Close must unblock
// pending SendPacket and RecvPacket calls.
type Transport interface {
	SendPacket(ctx context.Context, p binchannel.Packet) error
	RecvPacket(ctx context.Context) (binchannel.Packet, error)
	Close() error
}

// JSONOnly is implemented by transports that carry JSON text only. A Conn
// over such a transport encodes []byte and binchannel.Binary values as
// base64 strings (as encoding/json does) instead of raw binary parts.
type JSONOnly interface {
	JSONOnly() bool
}

// MessageStream is a carrier of whole JSON texts, one per message: an HTTP
// body, a line of newline-delimited JSON, a WebSocket text frame.
//
// Concurrency: WriteMessage is called from one goroutine at a time (the
// adapter serialises writes), ReadMessage from one goroutine at a time, and
// Close from any goroutine; Close unblocks both.
type MessageStream interface {
	// ReadMessage returns the next message; the slice belongs to the caller.
	ReadMessage(ctx context.Context) ([]byte, error)
	// WriteMessage sends msg as one message. It must not retain msg.
	WriteMessage(ctx context.Context, msg []byte) error
	Close() error
}

// NewStreamTransport adapts a JSON message stream to a Transport. Packets
// with binary parts are refused with ErrBinaryUnsupported, and a Conn over
// it sends binaries as base64 strings.
func NewStreamTransport(s MessageStream) Transport {
	return &streamTransport{s: s}
}

type streamTransport struct {
	s MessageStream
	// wmu serialises WriteMessage calls.
	wmu sync.Mutex
}

func (t *streamTransport) JSONOnly() bool { return true }

func (t *streamTransport) SendPacket(ctx context.Context, p binchannel.Packet) error {
	if len(p.Bins) > 0 {
		return ErrBinaryUnsupported
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	return t.s.WriteMessage(ctx, p.JSON)
}

func (t *streamTransport) RecvPacket(ctx context.Context) (binchannel.Packet, error) {
	b, err := t.s.ReadMessage(ctx)
	if err != nil {
		return binchannel.Packet{}, err
	}
	return binchannel.Packet{JSON: b}, nil
}

func (t *streamTransport) Close() error { return t.s.Close() }
