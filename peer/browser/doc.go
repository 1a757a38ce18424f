// Package browser embeds the peerd browser client: peerd.js, one ES module
// with no build step and no dependencies, and peerd.d.ts, its TypeScript
// declarations. Handler serves both; a web page then connects to a Go peer
// over a WebRTC data channel and calls it like a local object:
//
//	import * as peerd from "/peerd.js";
//	const { remote } = await peerd.connect({ signaling: "/signal", room: "public" });
//	await remote.demo.add(1, 2);
//
// The client implements docs/PROTOCOL.md: the signaling client (section 6),
// RTCPeerConnection set-up with trickle ICE and the "peerd" data channel
// (section 5), binchannel framing (section 2) and the rpc pair (sections 3
// and 4). The package's tests drive headless Chromium against a Go peer.
package browser
