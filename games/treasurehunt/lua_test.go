package treasurehunt

import (
	"testing"

	"github.com/veltrix/veltrix/engine/lua"
)

// TestLuaScripts runs the rules' own tests, scripts/treasurehunt/*_test.lua,
// so `make test` runs them. A failure names the Lua file and line.
func TestLuaScripts(t *testing.T) {
	results, err := lua.RunTests(lua.TestOptions{Options: lua.Options{Dir: "../../scripts/treasurehunt"}, Game: "treasurehunt"})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) == 0 {
		t.Fatal("no Lua tests found in scripts/treasurehunt")
	}
	for _, r := range results {
		t.Run(r.Name, func(t *testing.T) {
			if !r.Passed() {
				t.Error(r.Err)
			}
		})
	}
}
