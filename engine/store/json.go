package store

import (
	"encoding/json"
	"fmt"
)

// rowJSON is the JSON-lines form of a Row: what `veltrix audit`, the admin
// endpoint's /audit and the audit sink's files hold, one object per line.
// ts is unix ms; data is the row's JSON, or a JSON string when the row's
// data is not JSON.
type rowJSON struct {
	Hunt      string          `json:"hunt"`
	Player    string          `json:"player"`
	TS        int64           `json:"ts"`
	Kind      string          `json:"kind"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Index     uint16          `json:"index"`
	Data      json.RawMessage `json:"data"`
}

// MarshalJSON encodes r as {"hunt","player","ts","kind","partition",
// "offset","index","data"}.
func (r Row) MarshalJSON() ([]byte, error) {
	j := rowJSON{Hunt: r.Hunt, Player: r.Player, TS: r.TS, Kind: r.Kind,
		Partition: r.Partition, Offset: r.Offset, Index: r.Index, Data: json.RawMessage("null")}
	switch {
	case len(r.Data) == 0:
	case json.Valid(r.Data):
		j.Data = r.Data
	default:
		s, err := json.Marshal(string(r.Data))
		if err != nil {
			return nil, err
		}
		j.Data = s
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes MarshalJSON's form. A null data decodes to nil.
func (r *Row) UnmarshalJSON(b []byte) error {
	var j rowJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Hunt == "" {
		return fmt.Errorf("audit row: no hunt")
	}
	*r = Row{Hunt: j.Hunt, Player: j.Player, TS: j.TS, Kind: j.Kind,
		Partition: j.Partition, Offset: j.Offset, Index: j.Index}
	if len(j.Data) > 0 && string(j.Data) != "null" {
		r.Data = append([]byte(nil), j.Data...)
	}
	return nil
}
