package jsonr

import (
	"encoding/json"
	"testing"
)

func TestObject(t *testing.T) {
	type member struct {
		key, val string
		k        Kind
	}
	for _, tc := range []struct {
		in   string
		want []member // then End; nil with bad: Unsure somewhere
		bad  bool
	}{
		{in: `{}`},
		{in: " {\t}\r\n "},
		{in: `{"a":"b","c":-1.5e+3,"d":0}`, want: []member{{"a", "b", String}, {"c", "-1.5e+3", Number}, {"d", "0", Number}}},
		{in: `{ "a" : "" , "b" : 1 }`, want: []member{{"a", "", String}, {"b", "1", Number}}},
		{in: `{"a":"\u0041"}`, bad: true},
		{in: `{"a":"é"}`, bad: true},
		{in: "{\"a\":\"\t\"}", bad: true},
		{in: `{"a":null}`, bad: true},
		{in: `{"a":01}`, bad: true},
		{in: `{"a":1.}`, bad: true},
		{in: `{"a":1e}`, bad: true},
		{in: `{"a":-}`, bad: true},
		{in: `{"a":1,}`, bad: true},
		{in: `{,"a":1}`, bad: true},
		{in: `{"a":1}x`, bad: true},
		{in: `{"a":1`, bad: true},
		{in: `{"a" 1}`, bad: true},
		{in: `[]`, bad: true},
		{in: ``, bad: true},
	} {
		o := NewObject([]byte(tc.in))
		var got []member
		var k Kind
		for {
			var key, val []byte
			if key, val, k = o.Next(); k == End || k == Unsure {
				break
			}
			got = append(got, member{string(key), string(val), k})
		}
		if tc.bad != (k == Unsure) || !tc.bad && len(got) != len(tc.want) {
			t.Errorf("%s: %v then %v", tc.in, got, k)
			continue
		}
		for i := range tc.want {
			if !tc.bad && got[i] != tc.want[i] {
				t.Errorf("%s: member %d = %v, want %v", tc.in, i, got[i], tc.want[i])
			}
		}
		if _, _, k2 := o.Next(); k2 != Unsure {
			t.Errorf("%s: Next after %v = %v", tc.in, k, k2)
		}
	}
}

// What Object reads to the End is valid JSON, with the members
// encoding/json reads.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{"a":"b","c":-1.5e+3}`, `{"a":1,"a":2}`, `{}`, `{"a":1}x`, `{"a":"\u0041"}`, `{"a":01}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o := NewObject(b)
		got := map[string]string{}
		for {
			key, val, k := o.Next()
			switch k {
			case Unsure:
				return
			case String:
				got[string(key)] = `"` + string(val) + `"`
				continue
			case Number:
				got[string(key)] = string(val)
				continue
			}
			break
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%q: read to the end, but json.Unmarshal: %v", b, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %v, json.Unmarshal: %v", b, got, want)
		}
		for key, v := range want {
			if got[key] != string(v) {
				t.Fatalf("%q: %q = %s, json.Unmarshal: %s", b, key, got[key], v)
			}
		}
	})
}
