package binchannel

import (
	"bytes"
	"io"
)

// Binary is a binary value carried raw beside a packet's JSON skeleton. It is
// either one contiguous slice or, for a received value larger than the chunk
// size, the list of chunk views it arrived in. A Binary never copies on its
// own: Bytes is the only method that may assemble (one copy), and only when
// the value has more than one chunk.
//
// A Binary is an immutable view; it is safe to read from many goroutines.
type Binary struct {
	chunks [][]byte
	size   int64
}

// BytesBinary wraps b as a Binary without copying it.
func BytesBinary(b []byte) Binary {
	return Binary{chunks: [][]byte{b}, size: int64(len(b))}
}

// ChunksBinary wraps a list of chunk views as one Binary without copying them.
func ChunksBinary(chunks [][]byte) Binary {
	var n int64
	for _, c := range chunks {
		n += int64(len(c))
	}
	return Binary{chunks: chunks, size: n}
}

// Len reports the total length in bytes.
func (b Binary) Len() int64 { return b.size }

// Chunks returns the views the value is made of, in order. The caller must
// not modify them.
func (b Binary) Chunks() [][]byte { return b.chunks }

// Contiguous reports whether the value is held in at most one slice, so that
// Bytes returns a view rather than a copy.
func (b Binary) Contiguous() bool { return len(b.chunks) <= 1 }

// Bytes returns the value as one slice: a view when Contiguous, otherwise a
// newly assembled copy.
func (b Binary) Bytes() []byte {
	switch len(b.chunks) {
	case 0:
		return []byte{}
	case 1:
		return b.chunks[0]
	}
	out := make([]byte, 0, b.size)
	for _, c := range b.chunks {
		out = append(out, c...)
	}
	return out
}

// WriteTo writes the value to w chunk by chunk, without assembling it.
func (b Binary) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, c := range b.chunks {
		m, err := w.Write(c)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Reader returns an io.Reader over the value that reads the chunks in place.
func (b Binary) Reader() io.Reader {
	rs := make([]io.Reader, len(b.chunks))
	for i, c := range b.chunks {
		rs[i] = bytes.NewReader(c)
	}
	return io.MultiReader(rs...)
}

// Packet is the low-level form of one logical packet: a JSON skeleton in
// which every binary value is replaced by a placeholder, and the binaries the
// placeholders refer to, by index.
type Packet struct {
	// JSON is the skeleton. It must be valid JSON.
	JSON []byte
	// Bins holds the binary values, referred to from JSON by index.
	Bins []Binary
}
