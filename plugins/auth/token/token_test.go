package token

import (
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/plugin"
)

const (
	key1 = "first-secret-of-at-least-32-bytes!!"
	key2 = "second-secret-of-at-least-32-bytes!"
)

var now = time.Unix(1_800_000_000, 0)

func issue(t *testing.T, key string, c Claims) string {
	t.Helper()
	tok, err := Issue([]byte(key), c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerify(t *testing.T) {
	valid := issue(t, key1, Claims{Subject: "alice", ExpiresAt: now.Add(time.Hour).Unix(), Issuer: "login"})
	parts := strings.Split(valid, ".")
	enc := base64.RawURLEncoding.EncodeToString
	other := strings.Split(issue(t, key1, Claims{Subject: "mallory", ExpiresAt: now.Add(time.Hour).Unix()}), ".")
	for _, c := range []struct {
		name   string
		tok    string
		keys   []string
		issuer string
		at     time.Time
		want   error
	}{
		{"valid", valid, []string{key1}, "", now, nil},
		{"valid with issuer", valid, []string{key1}, "login", now, nil},
		{"rotated: old key still accepted", valid, []string{key2, key1}, "", now, nil},
		{"other key", valid, []string{key2}, "", now, ErrSignature},
		{"payload swapped", parts[0] + "." + other[1] + "." + parts[2], []string{key1}, "", now, ErrSignature},
		{"signature flipped", parts[0] + "." + parts[1] + "." + enc([]byte("0123456789abcdef0123456789abcdef")), []string{key1}, "", now, ErrSignature},
		{"alg none", enc([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".", []string{key1}, "", now, ErrAlgorithm},
		{"alg HS512", enc([]byte(`{"alg":"HS512"}`)) + "." + parts[1] + "." + parts[2], []string{key1}, "", now, ErrAlgorithm},
		{"crit header", enc([]byte(`{"alg":"HS256","crit":["x"]}`)) + "." + parts[1] + "." + parts[2], []string{key1}, "", now, ErrAlgorithm},
		{"expired", valid, []string{key1}, "", now.Add(time.Hour + time.Minute), ErrExpired},
		{"within leeway", valid, []string{key1}, "", now.Add(time.Hour + 20*time.Second), nil},
		{"wrong issuer", valid, []string{key1}, "other", now, ErrIssuer},
		{"two parts", parts[0] + "." + parts[1], []string{key1}, "", now, ErrMalformed},
		{"not base64", "!!.??." + parts[2], []string{key1}, "", now, ErrMalformed},
		{"huge", strings.Repeat("a", 5000) + ".b.c", []string{key1}, "", now, ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			var keys [][]byte
			for _, k := range c.keys {
				keys = append(keys, []byte(k))
			}
			got, err := Verify(c.tok, keys, c.at, DefaultLeeway, c.issuer)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if err == nil && got.Subject != "alice" {
				t.Fatalf("subject %q", got.Subject)
			}
		})
	}
	nyv := issue(t, key1, Claims{Subject: "alice", ExpiresAt: now.Add(time.Hour).Unix(), NotBefore: now.Add(time.Minute).Unix()})
	if _, err := Verify(nyv, [][]byte{[]byte(key1)}, now, DefaultLeeway, ""); !errors.Is(err, ErrNotYet) {
		t.Fatalf("nbf in a minute: %v", err)
	}
}

func TestIssueRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		key string
		cl  Claims
	}{
		"bad player": {key1, Claims{Subject: "a b", ExpiresAt: 1}},
		"no expiry":  {key1, Claims{Subject: "a"}},
		"short key":  {"short", Claims{Subject: "a", ExpiresAt: 1}},
	} {
		if _, err := Issue([]byte(c.key), c.cl); err == nil {
			t.Errorf("%s: issued", name)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	a := &Auth{Secret: key1, Now: func() time.Time { return now }}
	if err := a.Provision(plugin.Context{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	tok := issue(t, key1, Claims{Subject: "bob", ExpiresAt: now.Add(time.Hour).Unix()})
	for _, c := range []struct {
		name, header, query string
		want                error
	}{
		{"bearer header", "Bearer " + tok, "", nil},
		{"bearer, any case", "bearer " + tok, "", nil},
		{"query", "", tok, nil},
		{"missing", "", "", ErrMissing},
		{"basic auth", "Basic Ym9iOnB3", "", ErrMalformed},
		{"forged", "Bearer " + tok[:len(tok)-3] + "AAA", "", ErrSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/ws?token="+c.query, nil)
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			p, err := a.Authenticate(r)
			if !errors.Is(err, c.want) || (err == nil && p != "bob") {
				t.Fatalf("player %q err %v, want err %v", p, err, c.want)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "key")
	if err := os.WriteFile(f, []byte(key2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := plugin.Load("veltrix.auth", "token", func(into any) error {
		into.(*Auth).SecretFile = f
		return nil
	}, plugin.Context{})
	if err != nil {
		t.Fatal(err)
	}
	if a := m.(*Auth); string(a.Key()) != key2 || a.Leeway != DefaultLeeway {
		t.Fatalf("secret from file %q, leeway %s", a.Key(), a.Leeway)
	}
	for name, a := range map[string]*Auth{
		"no secret":          {},
		"short secret":       {Secret: "short"},
		"short old secret":   {Secret: key1, PreviousSecrets: []string{"old"}},
		"negative leeway":    {Secret: key1, Leeway: -time.Second},
		"secret and file":    {Secret: key1, SecretFile: f},
		"missing secretfile": {SecretFile: filepath.Join(dir, "nope")},
	} {
		err := a.Provision(plugin.Context{})
		if err == nil {
			err = a.Validate()
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
