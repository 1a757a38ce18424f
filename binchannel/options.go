package binchannel

import "time"

// Defaults for Options fields left zero.
const (
	DefaultChunkSize         = 200000
	DefaultPendingTTL        = 30 * time.Second
	DefaultMaxPacketSize     = 64 << 20
	DefaultMaxPendingBytes   = 128 << 20
	DefaultMaxPendingPackets = 64
	DefaultMaxQueueBytes     = 8 << 20
	DefaultMaxQueuePackets   = 1024
)

// Options configure a Channel. The zero value means every default.
type Options struct {
	// ChunkSize is the largest number of data bytes in one message.
	// Default 200000. It is capped, per packet, to the transport's
	// MaxMessageSize minus the header size.
	ChunkSize int

	// PendingTTL is how long a half-received packet may wait for its
	// remaining messages before it is dropped and ErrExpired reported.
	// Expiry is checked by a sweep every PendingTTL/8 while packets are
	// pending, so a packet goes between PendingTTL and 9/8 of it after it
	// began, never earlier. Default 30s; a negative value disables expiry.
	PendingTTL time.Duration

	// MaxPacketSize bounds one packet: skeleton plus binaries, in bytes,
	// in both directions. A received packet that claims more is dropped
	// as soon as the claim arrives. Default 64 MiB.
	MaxPacketSize int64

	// MaxPendingBytes bounds the bytes held by all half-received packets
	// together. Default 128 MiB.
	MaxPendingBytes int64

	// MaxPendingPackets bounds how many packets may be half-received at
	// once. Default 64.
	MaxPendingPackets int

	// MaxQueueBytes and MaxQueuePackets bound the output queue: a Send
	// that finds the queue at either bound waits (until its ctx is done)
	// for the writer to make room. A packet larger than MaxQueueBytes is
	// still accepted when the queue is below the bound. Defaults 8 MiB
	// and 1024.
	MaxQueueBytes   int64
	MaxQueuePackets int

	// AssembleBins delivers every received binary as one contiguous slice
	// (one copy for values that arrived in more than one chunk) instead of
	// its list of chunk views.
	AssembleBins bool

	// OnError, if set, receives every error no call returns: malformed or
	// hostile input, refused and expired packets (none of which end
	// RecvPacket), and transport failures met by the background writer
	// that takes over when a writing Send's ctx ends. It may be called
	// from RecvPacket's goroutine, the expiry timer's or the background
	// writer's; it must not block for long and must not call RecvPacket.
	OnError func(error)

	// Clock supplies time for PendingTTL. Default: the system clock.
	Clock Clock
}

// Clock is the time source a Channel uses for PendingTTL; tests inject a
// fake one.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed, unless
	// stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a stoppable pending call made by Clock.AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it
	// did so.
	Stop() bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}

func (o Options) withDefaults() Options {
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.PendingTTL == 0 {
		o.PendingTTL = DefaultPendingTTL
	}
	if o.MaxPacketSize <= 0 {
		o.MaxPacketSize = DefaultMaxPacketSize
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if o.MaxPendingPackets <= 0 {
		o.MaxPendingPackets = DefaultMaxPendingPackets
	}
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if o.MaxQueuePackets <= 0 {
		o.MaxQueuePackets = DefaultMaxQueuePackets
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	return o
}
