package binchannel

import (
	"bytes"
	"encoding/binary"
)

// Message kinds: the first byte of every binchannel message. See
// docs/PROTOCOL.md section 2.
const (
	// KindOpen starts a packet: it declares the packet id, the number of
	// binaries and the skeleton length, and carries the skeleton's first
	// bytes.
	KindOpen byte = 0x01
	// KindJSON carries further bytes of a skeleton that did not fit in the
	// OPEN message.
	KindJSON byte = 0x02
	// KindBin carries bytes of one binary value.
	KindBin byte = 0x03
)

// Header sizes in bytes, one per kind.
const (
	OpenHeaderSize = 13 // kind u8, id u32, bins u32, skeleton length u32
	JSONHeaderSize = 9  // kind u8, id u32, skeleton offset u32
	BinHeaderSize  = 25 // kind u8, id u32, bin index u32, total u64, offset u64
	maxHeaderSize  = BinHeaderSize
)

// maxWireLen is the largest skeleton length or count a u32 field can carry.
const maxWireLen = 1<<32 - 1

// header is a parsed message header. Fields not used by a kind are zero.
type header struct {
	kind   byte
	id     uint32
	index  uint32 // OPEN: number of binaries; BIN: binary index
	total  uint64 // OPEN: skeleton length; BIN: binary length
	offset uint64 // JSON, BIN: offset of the first data byte
}

// headerSize returns the header size of kind, or 0 for an unknown kind.
func headerSize(kind byte) int {
	switch kind {
	case KindOpen:
		return OpenHeaderSize
	case KindJSON:
		return JSONHeaderSize
	case KindBin:
		return BinHeaderSize
	}
	return 0
}

// AppendOpenHeader appends an OPEN header to dst.
func AppendOpenHeader(dst []byte, id, bins, jsonLen uint32) []byte {
	dst = append(dst, KindOpen)
	dst = binary.BigEndian.AppendUint32(dst, id)
	dst = binary.BigEndian.AppendUint32(dst, bins)
	return binary.BigEndian.AppendUint32(dst, jsonLen)
}

// AppendJSONHeader appends a JSON continuation header to dst.
func AppendJSONHeader(dst []byte, id, offset uint32) []byte {
	dst = append(dst, KindJSON)
	dst = binary.BigEndian.AppendUint32(dst, id)
	return binary.BigEndian.AppendUint32(dst, offset)
}

// AppendBinHeader appends a BIN chunk header to dst.
func AppendBinHeader(dst []byte, id, index uint32, total, offset uint64) []byte {
	dst = append(dst, KindBin)
	dst = binary.BigEndian.AppendUint32(dst, id)
	dst = binary.BigEndian.AppendUint32(dst, index)
	dst = binary.BigEndian.AppendUint64(dst, total)
	return binary.BigEndian.AppendUint64(dst, offset)
}

// parseHeader decodes the header at the start of a message given as parts.
// It returns the header, the remaining data as views of parts (the parts
// slice is reused in place) and the data length. It never allocates.
func parseHeader(parts [][]byte) (header, [][]byte, int, error) {
	var h header
	// Skip leading empty parts to find the kind byte.
	for len(parts) > 0 && len(parts[0]) == 0 {
		parts = parts[1:]
	}
	if len(parts) == 0 {
		return h, nil, 0, ErrTruncated
	}
	h.kind = parts[0][0]
	n := headerSize(h.kind)
	if n == 0 {
		return h, nil, 0, ErrUnknownKind
	}
	var hb []byte
	var buf [maxHeaderSize]byte
	if len(parts[0]) >= n {
		hb = parts[0][:n]
		parts[0] = parts[0][n:]
	} else {
		got := 0
		for got < n && len(parts) > 0 {
			c := copy(buf[got:n], parts[0])
			got += c
			if c == len(parts[0]) {
				parts = parts[1:]
			} else {
				parts[0] = parts[0][c:]
			}
		}
		if got < n {
			return h, nil, 0, ErrTruncated
		}
		hb = buf[:n]
	}
	h.id = binary.BigEndian.Uint32(hb[1:5])
	switch h.kind {
	case KindOpen:
		h.index = binary.BigEndian.Uint32(hb[5:9])
		h.total = uint64(binary.BigEndian.Uint32(hb[9:13]))
	case KindJSON:
		h.offset = uint64(binary.BigEndian.Uint32(hb[5:9]))
	case KindBin:
		h.index = binary.BigEndian.Uint32(hb[5:9])
		h.total = binary.BigEndian.Uint64(hb[9:17])
		h.offset = binary.BigEndian.Uint64(hb[17:25])
	}
	// Drop empty parts so that the data views are exactly the bytes.
	size := 0
	out := parts[:0]
	for _, p := range parts {
		if len(p) > 0 {
			out = append(out, p)
			size += len(p)
		}
	}
	return h, out, size, nil
}

func indexOf(b []byte, s string) int { return bytes.Index(b, []byte(s)) }
