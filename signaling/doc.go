// Package signaling is a WebSocket signaling server and its Go client: peers
// join rooms, learn of each other and relay SDP offers, answers and ICE
// candidates. Its API runs on package rpc.
package signaling
