// Package binchannel frames logical packets — a JSON skeleton plus raw binary
// values — over any reliable, ordered message Transport: a WebRTC data
// channel, a WebSocket connection or the in-memory Pipe.
//
// Binary values travel raw, never base64. On send they are cut into chunks
// that are sub-slices of the caller's memory (no merged buffer); on receive a
// value no larger than one chunk is a view of the received message and a
// larger one is delivered as its list of chunk views. The wire format is
// specified in docs/PROTOCOL.md.
package binchannel
