// Package rpc is a bidirectional RPC pair on a JSON-RPC 2.0 envelope: both
// ends of a connection register local functions and call the other's, pass
// functions as arguments and get functions back, and carry binary values raw
// when running over a binchannel.
package rpc
