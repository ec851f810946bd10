package lua

import (
	"encoding/json"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

// evalJSON runs a Lua expression in a fresh state and encodes its value.
func evalJSON(t *testing.T, expr string) (string, error) {
	t.Helper()
	L := glua.NewState()
	defer L.Close()
	if err := L.DoString("v = " + expr); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	var e encoder
	b, err := e.encode(L.GetGlobal("v"))
	return string(b), err
}

func TestEncode(t *testing.T) {
	for expr, want := range map[string]string{
		`{}`:                                `{}`,
		`{1, 2, 3}`:                         `[1,2,3]`,
		`{[3] = "c", [1] = "a", [2] = "b"}`: `["a","b","c"]`,
		`{1, nil, 3}`:                       `{"1":1,"3":3}`,
		`{b = 1, a = {}, c = {x = true}}`:   `{"a":{},"b":1,"c":{"x":true}}`,
		`{[10] = 1, [2] = 2}`:               `{"10":1,"2":2}`,
		`{[0] = "z"}`:                       `{"0":"z"}`,
		`{[1.5] = 1}`:                       `{"1.5":1}`,
		`{1.5, -0.25, 1e300, 2^53, -3}`:     `[1.5,-0.25,1e+300,9007199254740992,-3]`,
		`"a\"b\\c\n\t\1<>&"`:                `"a\"b\\c\n\t\u0001<>&"`,
		`"caf\195\169 \255"`:                `"café \ufffd"`,
		`{a = {b = {1, {c = "d"}}}}`:        `{"a":{"b":[1,{"c":"d"}]}}`,
		`12`:                                `12`,
		`false`:                             `false`,
	} {
		got, err := evalJSON(t, expr)
		if err != nil || got != want {
			t.Errorf("%s: got %s (%v), want %s", expr, got, err, want)
		}
		if err == nil && !json.Valid([]byte(got)) {
			t.Errorf("%s: invalid JSON %s", expr, got)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	for expr, want := range map[string]string{
		`print`:       "function",
		`{f = print}`: "function",
		`0/0`:         "NaN",
		`(function() local t = {} t.t = t return t end)()`: "contains itself",
		`{[{}] = 1}`:           "key",
		`{[1] = 1, ["1"] = 2}`: "both",
		`(function() local t = {} local c = t for i = 1, 70 do c.n = {} c = c.n end return t end)()`: "deeper",
	} {
		if got, err := evalJSON(t, expr); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %s, err %v, want error with %q", expr, got, err, want)
		}
	}
	// A table shared twice (not a cycle) is fine.
	if got, err := evalJSON(t, `(function() local s = {1} return {a = s, b = s} end)()`); err != nil || got != `{"a":[1],"b":[1]}` {
		t.Errorf("shared table: %s %v", got, err)
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	d := decoder{L: L}
	var e encoder
	for in, want := range map[string]string{
		`{"z":1,"a":[1,2,{"k":null}],"m":{"y":"\u00e9\n\"","x":-1.5e3}}`: `{"a":[1,2,{}],"m":{"x":-1500,"y":"é\n\""},"z":1}`,
		` [ ] `:          `{}`,
		`[1,null,3]`:     `{"1":1,"3":3}`,
		`"\ud83d\ude00"`: `"😀"`,
		`{"a":1,"a":2}`:  `{"a":2}`,
		`true`:           `true`,
	} {
		v, err := d.decode([]byte(in))
		if err != nil {
			t.Errorf("decode %s: %v", in, err)
			continue
		}
		got, err := e.encode(v)
		if err != nil || string(got) != want {
			t.Errorf("%s: got %s (%v), want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{``, `{`, `[1,]`, `{"a"}`, `{"a":1,}`, `tru`, `"x`, `1 2`, `{"a":01x}`, strings.Repeat("[", 100) + strings.Repeat("]", 100)} {
		if _, err := d.decode([]byte(bad)); err == nil {
			t.Errorf("decode %q: no error", bad)
		}
	}
}

// Keys are inserted in sorted order, so pairs walks them the same way
// whatever order the JSON had.
func TestDecodedPairsOrder(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	d := decoder{L: L}
	order := func(in string) string {
		v, err := d.decode([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k, _ := v.(*glua.LTable).Next(glua.LNil); k != glua.LNil; k, _ = v.(*glua.LTable).Next(k) {
			keys = append(keys, k.String())
		}
		return strings.Join(keys, ",")
	}
	if a, b := order(`{"c":1,"a":2,"b":3}`), order(`{"b":3,"c":1,"a":2}`); a != "a,b,c" || b != a {
		t.Errorf("pairs order %s / %s", a, b)
	}
}
