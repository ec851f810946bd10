package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// expiryLen is the size of the big-endian unix-ms expiry that starts every
// stored value.
const expiryLen = 8

// errMalformed marks a stored value or key that does not decode.
var errMalformed = errors.New("malformed stored value")

// appendValue appends the stored form of payload: expiry then payload.
func appendValue(dst []byte, expiresAt int64, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(expiresAt))
	return append(dst, payload...)
}

// splitValue splits a stored value into its expiry and payload. The payload
// aliases v.
func splitValue(v []byte) (expiresAt int64, payload []byte, ok bool) {
	if len(v) < expiryLen {
		return 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(v)), v[expiryLen:], true
}

// expired reports whether a row with the given expiry is dead at nowMs. A row
// is dead from its expiry instant on; 0 never expires.
func expired(expiresAt, nowMs int64) bool {
	return expiresAt != 0 && nowMs >= expiresAt
}

// Audit key layout; see the package comment.
const (
	huntIndex   = "a/h/"
	playerIndex = "a/p/"
	idSep       = '\x00'
	tsLen       = 8
	rowIDLen    = tsLen + 4 + 8 + 2 // ts, partition, offset, index
)

// checkID rejects ids that would break the key layout: \x00 ends an id.
func checkID(what, id string) error {
	if strings.IndexByte(id, idSep) >= 0 {
		return fmt.Errorf("%s id %q contains a NUL byte", what, id)
	}
	return nil
}

// huntPrefix is the prefix of every hunt-index key of hunt.
func huntPrefix(hunt string) []byte {
	b := make([]byte, 0, len(huntIndex)+len(hunt)+1+rowIDLen)
	b = append(b, huntIndex...)
	b = append(b, hunt...)
	return append(b, idSep)
}

// playerPrefix is the prefix of every player-index key of player in hunt.
func playerPrefix(hunt, player string) []byte {
	b := make([]byte, 0, len(playerIndex)+len(hunt)+len(player)+2+rowIDLen)
	b = append(b, playerIndex...)
	b = append(b, hunt...)
	b = append(b, idSep)
	b = append(b, player...)
	return append(b, idSep)
}

// appendRowID appends the ordered, unique tail of a row's keys. Fields are
// big-endian so byte order is time order; they are checked non-negative
// before this is called.
func appendRowID(dst []byte, r *Row) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.TS))
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.Partition))
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Offset))
	return binary.BigEndian.AppendUint16(dst, r.Index)
}

// rowCodecV1 tags the row encoding so it can change without a migration.
const rowCodecV1 = 1

// appendRow appends the binary form of r (the payload of both its keys):
//
//	version:1 ts:8 partition:4 offset:8 index:2
//	len(hunt):uvarint hunt len(player):uvarint player len(kind):uvarint kind
//	data (the rest)
func appendRow(dst []byte, r *Row) []byte {
	dst = append(dst, rowCodecV1)
	dst = appendRowID(dst, r)
	for _, s := range [...]string{r.Hunt, r.Player, r.Kind} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return append(dst, r.Data...)
}

// decodeRow decodes appendRow's output. The Row owns its memory: nothing
// aliases p, which may point into RocksDB's reused iterator buffers. hunt and
// player, when equal to the stored ids (a query knows them), are used instead
// of allocating new strings.
func decodeRow(p []byte, hunt, player string) (Row, error) {
	var r Row
	if len(p) < 1+rowIDLen || p[0] != rowCodecV1 {
		return r, errMalformed
	}
	p = p[1:]
	r.TS = int64(binary.BigEndian.Uint64(p))
	r.Partition = int32(binary.BigEndian.Uint32(p[8:]))
	r.Offset = int64(binary.BigEndian.Uint64(p[12:]))
	r.Index = binary.BigEndian.Uint16(p[20:])
	p = p[rowIDLen:]
	strs := [3]string{hunt, player, ""}
	for i := range strs {
		n, w := binary.Uvarint(p)
		if w <= 0 || n > uint64(len(p)-w) {
			return Row{}, errMalformed
		}
		if b := p[w : w+int(n)]; string(b) != strs[i] { // compared without allocating
			strs[i] = string(b)
		}
		p = p[w+int(n):]
	}
	r.Hunt, r.Player, r.Kind = strs[0], strs[1], strs[2]
	if len(p) > 0 {
		r.Data = append([]byte(nil), p...)
	}
	return r, nil
}
