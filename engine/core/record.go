package core

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// SessionRecord is the engine's envelope around a game's session state, as
// stored under SessionKey. The game's state stays opaque JSON; the envelope is
// binary so that no step re-parses the state just to read a sequence number.
type SessionRecord struct {
	Seq   uint64          // last applied action seq
	Seen  int64           // last activity, unix ms
	Last  *Answer         // answer to Seq, sent again for a resent action
	State json.RawMessage // the game's session state
}

// HuntRecord is the engine's envelope around a game's hunt state (HuntKey).
type HuntRecord struct {
	Ended bool
	Seen  int64
	State json.RawMessage
}

// Answer is the engine's answer to one action.
type Answer struct {
	OK     bool
	Reason string
}

const (
	sessionRecordV1 = 1
	huntRecordV1    = 1
)

var errShortRecord = errors.New("core: record too short")

// MarshalBinary encodes: version u8, seq u64, seen i64, flags u8 (1: has
// last, 2: last ok), reason (uvarint length + bytes), state (the rest).
func (r *SessionRecord) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 1+8+8+1+1+16+len(r.State))
	b = append(b, sessionRecordV1)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seen))
	var flags byte
	reason := ""
	if r.Last != nil {
		flags |= 1
		if r.Last.OK {
			flags |= 2
		}
		reason = r.Last.Reason
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(reason)))
	b = append(b, reason...)
	return append(b, r.State...), nil
}

// UnmarshalBinary decodes MarshalBinary's output. State aliases b.
func (r *SessionRecord) UnmarshalBinary(b []byte) error {
	if len(b) < 18 {
		return errShortRecord
	}
	if b[0] != sessionRecordV1 {
		return fmt.Errorf("core: session record version %d unknown", b[0])
	}
	r.Seq = binary.BigEndian.Uint64(b[1:])
	r.Seen = int64(binary.BigEndian.Uint64(b[9:]))
	flags := b[17]
	n, w := binary.Uvarint(b[18:])
	if w <= 0 || uint64(len(b)-18-w) < n {
		return errShortRecord
	}
	rest := b[18+w:]
	r.Last = nil
	if flags&1 != 0 {
		r.Last = &Answer{OK: flags&2 != 0, Reason: string(rest[:n])}
	}
	r.State = nil
	if len(rest[n:]) > 0 {
		r.State = rest[n:]
	}
	return nil
}

// MarshalBinary encodes: version u8, flags u8 (1: ended), seen i64, state.
func (r *HuntRecord) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 10+len(r.State))
	b = append(b, huntRecordV1)
	var flags byte
	if r.Ended {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seen))
	return append(b, r.State...), nil
}

// UnmarshalBinary decodes MarshalBinary's output. State aliases b.
func (r *HuntRecord) UnmarshalBinary(b []byte) error {
	if len(b) < 10 {
		return errShortRecord
	}
	if b[0] != huntRecordV1 {
		return fmt.Errorf("core: hunt record version %d unknown", b[0])
	}
	r.Ended = b[1]&1 != 0
	r.Seen = int64(binary.BigEndian.Uint64(b[2:]))
	r.State = nil
	if len(b) > 10 {
		r.State = b[10:]
	}
	return nil
}

// DecodeSession decodes a value stored under SessionKey (for tools and tests).
func DecodeSession(b []byte) (*SessionRecord, error) {
	var r SessionRecord
	return &r, r.UnmarshalBinary(b)
}

// DecodeHunt decodes a value stored under HuntKey.
func DecodeHunt(b []byte) (*HuntRecord, error) {
	var r HuntRecord
	return &r, r.UnmarshalBinary(b)
}
