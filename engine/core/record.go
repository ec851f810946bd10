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
	Seq  uint64 // last applied action seq
	Seen int64  // last activity, unix ms
	// Recent are the answers to the last RecentAnswers actions, oldest
	// first, sent again when one of them is resent.
	Recent []RecentAnswer
	State  json.RawMessage // the game's session state
}

// RecentAnswers is how many answers a session keeps for resends: a client
// may have that many actions in flight (the replay tool keeps 32).
const RecentAnswers = 32

// RecentAnswer is the answer to the action with sequence number Seq.
type RecentAnswer struct {
	Seq uint64
	Answer
}

// AnswerTo returns the kept answer to seq.
func (r *SessionRecord) AnswerTo(seq uint64) (Answer, bool) {
	for i := len(r.Recent) - 1; i >= 0; i-- {
		if r.Recent[i].Seq == seq {
			return r.Recent[i].Answer, true
		}
	}
	return Answer{}, false
}

// remember keeps ans as the answer to seq, forgetting the oldest beyond
// RecentAnswers. It changes Recent in place: the caller owns the record
// (Step decodes a fresh one for each action; UnmarshalBinary never shares
// Recent), and a full session would otherwise copy 32 answers per action.
func (r *SessionRecord) remember(seq uint64, ans Answer) {
	ra := RecentAnswer{Seq: seq, Answer: ans}
	if n := len(r.Recent); n >= RecentAnswers {
		r.Recent = r.Recent[n-RecentAnswers:]
		copy(r.Recent, r.Recent[1:])
		r.Recent[len(r.Recent)-1] = ra
		return
	}
	r.Recent = append(r.Recent, ra)
}

// HuntRecord is the engine's envelope around a game's hunt state (HuntKey).
type HuntRecord struct {
	Ended bool
	Seen  int64 // time of the record's last write, unix ms (see Core.Step)
	State json.RawMessage
}

// Answer is the engine's answer to one action.
type Answer struct {
	OK     bool
	Reason string
}

const (
	sessionRecordV1 = 1 // the last answer only; read, no longer written
	sessionRecordV2 = 2
	huntRecordV1    = 1
)

var errShortRecord = errors.New("core: record too short")

// MarshalBinary encodes: version u8 (2), seq u64, seen i64, the number of
// recent answers u8, each as (seq - its seq) uvarint, flags u8 (2: ok),
// reason (uvarint length + bytes); then the state (the rest).
func (r *SessionRecord) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 1+8+8+1+3*len(r.Recent)+len(r.State))
	b = append(b, sessionRecordV2)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seen))
	recent := r.Recent
	if len(recent) > RecentAnswers {
		recent = recent[len(recent)-RecentAnswers:]
	}
	b = append(b, byte(len(recent)))
	for _, ra := range recent {
		b = binary.AppendUvarint(b, r.Seq-ra.Seq)
		var flags byte
		if ra.OK {
			flags |= 2
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(len(ra.Reason)))
		b = append(b, ra.Reason...)
	}
	return append(b, r.State...), nil
}

// UnmarshalBinary decodes MarshalBinary's output, and version 1 records
// (the last answer only). State aliases b.
func (r *SessionRecord) UnmarshalBinary(b []byte) error {
	if len(b) < 18 {
		return errShortRecord
	}
	r.Seq = binary.BigEndian.Uint64(b[1:])
	r.Seen = int64(binary.BigEndian.Uint64(b[9:]))
	r.Recent = nil
	var rest []byte
	switch b[0] {
	case sessionRecordV1: // flags u8 (1: has last, 2: last ok), reason
		flags := b[17]
		reason, tail, err := readString(b[18:])
		if err != nil {
			return err
		}
		if flags&1 != 0 {
			r.Recent = []RecentAnswer{{Seq: r.Seq, Answer: Answer{OK: flags&2 != 0, Reason: reason}}}
		}
		rest = tail
	case sessionRecordV2:
		n := int(b[17])
		rest = b[18:]
		if n > 0 {
			r.Recent = make([]RecentAnswer, n)
		}
		for i := range n {
			d, w := binary.Uvarint(rest)
			if w <= 0 || len(rest) < w+1 {
				return errShortRecord
			}
			flags := rest[w]
			reason, tail, err := readString(rest[w+1:])
			if err != nil {
				return err
			}
			r.Recent[i] = RecentAnswer{Seq: r.Seq - d, Answer: Answer{OK: flags&2 != 0, Reason: reason}}
			rest = tail
		}
	default:
		return fmt.Errorf("core: session record version %d unknown", b[0])
	}
	r.State = nil
	if len(rest) > 0 {
		r.State = rest
	}
	return nil
}

// readString reads a uvarint length and that many bytes.
func readString(b []byte) (string, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return "", nil, errShortRecord
	}
	return string(b[w : w+int(n)]), b[w+int(n):], nil
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
