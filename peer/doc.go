// Package peer connects two peers with a Pion WebRTC data channel, found
// through a signaling server, and carries binchannel and rpc over it. It is
// the only package that imports Pion.
package peer
