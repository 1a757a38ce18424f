// Package binchannel frames logical packets — a JSON skeleton plus raw binary
// values — over any reliable, ordered message Transport: a WebRTC data
// channel, a WebSocket connection (NewWebSocket) or the in-memory pipe
// (NewPipe).
//
// # Packets
//
// Marshal turns any JSON-encodable value into a Packet: every []byte and
// Binary found at any depth is moved into Packet.Bins and replaced in the
// skeleton by a placeholder {"$bin":N}. Unmarshal binds placeholders back.
// EncodeBinaries and DecodeBinaries expose the same behaviour as options of
// github.com/go-json-experiment/json, for callers that build their own
// envelopes around binaries (package rpc does).
//
// # Zero copy
//
// Binary values travel raw, never base64. On send they are cut into chunks
// that are sub-slices of the caller's memory, each written next to a small
// header as a separate part of one message (no merged buffer). On receive a
// value that arrived in one message is a view of it, and a larger one is the
// list of its chunk views (Binary.WriteTo and Binary.Reader stream it without
// assembling; Options.AssembleBins assembles instead, one copy).
// Consequently a sender must not modify bytes it has passed to Send, and
// the receiver owns what it receives.
//
// # Concurrency
//
// A Channel's SendPacket, Send, Flush, Reset and Close are safe for
// concurrent use. Sends go through one ordered output queue: a Send that
// finds nobody writing becomes the writer and writes its packet; a Send
// that finds a writer appends its packet as one contiguous block and
// returns. A writer that leaves packets queued behind it when it is done
// hands the queue to a background writer, which exits when the queue is
// empty. So packets never interleave on the wire, no Send is held up by a
// stream of others, and a Send re-entered from inside the transport's
// WriteMessage appends rather than deadlocks. RecvPacket and
// Recv must be called from one goroutine at a time. Errors caused by the
// peer's input never end RecvPacket; they go to Options.OnError.
//
// # Wire format
//
// Three message kinds (OPEN, JSON, BIN) with fixed big-endian headers of 13,
// 9 and 25 bytes; docs/PROTOCOL.md section 2 specifies them byte by byte,
// with the limits a receiver enforces.
package binchannel
