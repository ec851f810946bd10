package anonymous

import (
	"net/http/httptest"
	"testing"

	"github.com/veltrix/veltrix/engine/plugin"
)

func TestDevIsAnAlias(t *testing.T) {
	for _, name := range []string{"anonymous", "dev"} {
		m, err := plugin.Load("veltrix.auth", name, nil, plugin.Context{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := m.(*Auth); !ok {
			t.Fatalf("%s is a %T", name, m)
		}
	}
}

func TestChosenAndRandomIDs(t *testing.T) {
	a := &Auth{}
	if p, err := a.Authenticate(httptest.NewRequest("GET", "/ws?player=alice", nil)); err != nil || p != "alice" {
		t.Fatalf("chosen id: %q %v", p, err)
	}
	if _, err := a.Authenticate(httptest.NewRequest("GET", "/ws?player=a%20b", nil)); err == nil {
		t.Fatal("an invalid id was accepted")
	}
	p1, _ := a.Authenticate(httptest.NewRequest("GET", "/ws", nil))
	p2, _ := a.Authenticate(httptest.NewRequest("GET", "/ws", nil))
	if p1 == p2 || len(p1) != 18 {
		t.Fatalf("random ids %q %q", p1, p2)
	}
	no := false
	if p, _ := (&Auth{AllowChosenID: &no}).Authenticate(httptest.NewRequest("GET", "/ws?player=alice", nil)); p == "alice" {
		t.Fatal("allow_chosen_id: false still honoured ?player=")
	}
}
