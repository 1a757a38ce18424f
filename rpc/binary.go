package rpc

import (
	"github.com/go-json-experiment/json"
	"github.com/peerd/peerd/binchannel"
)

// encodeOptions returns the json options for encoding one message: the
// given marshalers joined with the binary handling of the transport.
func (c *Conn) encodeOptions(bins *[]binchannel.Binary, ms []*json.Marshalers) []json.Options {
	if len(ms) == 0 {
		return nil
	}
	return []json.Options{json.WithMarshalers(json.JoinMarshalers(ms...))}
}

// decodeOptions is the decoding counterpart of encodeOptions.
func (c *Conn) decodeOptions(bins []binchannel.Binary, us []*json.Unmarshalers) []json.Options {
	if len(us) == 0 {
		return nil
	}
	return []json.Options{json.WithUnmarshalers(json.JoinUnmarshalers(us...))}
}
