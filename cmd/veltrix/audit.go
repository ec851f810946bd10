package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/veltrix/veltrix/engine/app"
	"github.com/veltrix/veltrix/engine/config"
	"github.com/veltrix/veltrix/engine/store"
	"github.com/veltrix/veltrix/plugins/audit/jsonl"
)

const auditUsage = `Usage: veltrix audit --hunt H [--player P] [--since T] [--until T] [--limit N] [source]

Prints the audit rows of a hunt (or of one player in it) in time order, one
JSON object per line: {"hunt","player","ts","kind","partition","offset","index","data"}
(ts in unix ms). Times are RFC 3339 (2030-01-02T15:04:05Z) or unix ms; since
is inclusive, until exclusive.

Source, one of:
  (default)           the audit store of the config (engine.audit.path), opened
                      read-only: it works while an engine runs on it, and shows
                      the store as of the moment it was opened
  --path DIR          that audit store directory, read-only
  --admin URL         a running engine's admin endpoint (admin.listen), e.g.
                      http://127.0.0.1:9100
  --from-export DIR   the files of the jsonl audit sink (engine.audit.sink.dir)

Flags:
`

// auditCmd is `veltrix audit`.
func auditCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("veltrix audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, auditUsage); fs.PrintDefaults() }
	hunt := fs.String("hunt", "", "hunt id (required)")
	player := fs.String("player", "", "only this player's rows")
	since := fs.String("since", "", "from this time (inclusive)")
	until := fs.String("until", "", "up to this time (exclusive)")
	limit := fs.Int("limit", 0, "at most this many rows (0: all)")
	adminURL := fs.String("admin", "", "query a running engine's admin endpoint at this URL")
	exportDir := fs.String("from-export", "", "read the jsonl audit sink's files in this directory")
	path := fs.String("path", "", "audit store directory (default: engine.audit.path of the config)")
	cfgPath := fs.String("config", "configs/dev.yaml", "YAML config file")
	var sets multi
	fs.Var(&sets, "set", "override a config key (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("audit: unexpected argument %q", fs.Arg(0))
	}
	params := url.Values{}
	for k, v := range map[string]string{"hunt": *hunt, "player": *player, "since": *since, "until": *until} {
		if v != "" {
			params.Set(k, v)
		}
	}
	if *limit != 0 {
		params.Set("limit", strconv.Itoa(*limit))
	}
	q, err := app.AuditQueryFromURL(params.Get)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	sources := 0
	for _, s := range []string{*adminURL, *exportDir, *path} {
		if s != "" {
			sources++
		}
	}
	if sources > 1 {
		return errors.New("audit: give at most one of --admin, --from-export and --path")
	}

	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	enc := json.NewEncoder(out)
	var werr error
	rows := 0
	emit := func(r store.Row) bool {
		rows++
		werr = enc.Encode(r)
		return werr == nil
	}
	switch {
	case *adminURL != "":
		err = auditFromAdmin(*adminURL, params, out)
	case *exportDir != "":
		if fi, serr := os.Stat(*exportDir); serr != nil || !fi.IsDir() {
			return fmt.Errorf("audit: --from-export %s: not a directory of exported audit files", *exportDir)
		}
		err = jsonl.ReadDir(*exportDir, q, emit)
	default:
		dir := *path
		if dir == "" {
			cfg, err := config.Load(*cfgPath, os.Environ(), sets)
			if err != nil {
				return err
			}
			dir = cfg.Engine.Audit.Path
		}
		err = auditFromStore(dir, q, emit)
	}
	if err == nil {
		err = werr
	}
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if rows == 0 && *adminURL == "" {
		// Said on stderr, so stdout stays pure JSON lines.
		who := fmt.Sprintf("hunt %q", *hunt)
		if *player != "" {
			who += fmt.Sprintf(", player %q", *player)
		}
		fmt.Fprintf(stderr, "audit: no rows for %s in that time range\n", who)
	}
	return nil
}

// auditFromStore queries the audit store at dir, opened read-only (no lock:
// an engine may be running on it).
func auditFromStore(dir string, q store.Query, emit func(store.Row) bool) error {
	a, err := store.OpenAudit(store.AuditOptions{Path: dir, ReadOnly: true})
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Query(q, emit)
}

// auditFromAdmin copies the JSON lines of a running engine's GET /audit.
func auditFromAdmin(base string, params url.Values, out io.Writer) error {
	body, err := adminGet(base, "/audit?"+params.Encode())
	if err != nil {
		return err
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		// The engine ends a stream that failed half-way with {"error":...}.
		if msg, ok := strings.CutPrefix(string(line), `{"error":`); ok {
			return fmt.Errorf("engine: %s", strings.TrimSuffix(msg, "}"))
		}
		if _, err := out.Write(append(line, '\n')); err != nil {
			return err
		}
	}
	return sc.Err()
}

// adminGet GETs path from a running engine's admin endpoint and returns the
// body of a 200 answer.
func adminGet(base, path string) (io.ReadCloser, error) {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+path, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("admin endpoint: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("admin endpoint %s: %s: %s", req.URL.Redacted(), resp.Status, strings.TrimSpace(string(msg)))
	}
	return cancelBody{resp.Body, cancel}, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelBody) Close() error { err := b.ReadCloser.Close(); b.cancel(); return err }
