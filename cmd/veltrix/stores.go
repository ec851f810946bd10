package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/veltrix/veltrix/engine/app"
	"github.com/veltrix/veltrix/engine/config"
	"github.com/veltrix/veltrix/engine/store"
)

const storesUsage = `Usage: veltrix stores stats [--exact] [--admin URL] [--config FILE] [--set key=value]...

Prints the session and audit stores' figures as JSON: estimated keys, SST
bytes, memtable bytes, bytes on disk, free space, block cache use, and the
counters of expired rows dropped and compactions. estimated_keys is
RocksDB's estimate: every overwrite and delete counts until a compaction
merges them (a session written 400 times may count 400), so it runs high
on a busy sessions store; --exact gives the true count.

Without --admin the stores of the config (engine.sessions.path,
engine.audit.path) are opened read-only, which works while an engine runs
on them; the counters then count since that open (zero). With --admin URL
the figures, counters included, come from the running engine (GET /stores).
--exact also scans every row and counts live and expired keys (slow on a big
store; offline only).

Flags:
`

// storesCmd is `veltrix stores`.
func storesCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "stats" {
		fmt.Fprint(stderr, storesUsage)
		return errors.New("stores: want the subcommand stats")
	}
	fs := flag.NewFlagSet("veltrix stores stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, storesUsage); fs.PrintDefaults() }
	adminURL := fs.String("admin", "", "read the figures of a running engine's admin endpoint at this URL")
	exact := fs.Bool("exact", false, "also count live and expired keys by a full scan")
	cfgPath := fs.String("config", "configs/dev.yaml", "YAML config file")
	var sets multi
	fs.Var(&sets, "set", "override a config key (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("stores stats: unexpected argument %q", fs.Arg(0))
	}
	if *adminURL != "" {
		if *exact {
			return errors.New("stores stats: --exact reads the stores directly; it does not go with --admin")
		}
		body, err := adminGet(*adminURL, "/stores")
		if err != nil {
			return fmt.Errorf("stores stats: %w", err)
		}
		defer body.Close()
		_, err = io.Copy(stdout, body)
		return err
	}
	cfg, err := config.Load(*cfgPath, os.Environ(), sets)
	if err != nil {
		return err
	}
	var rep app.StoresReport
	if rep.Sessions, err = offlineStats(cfg.Engine.Sessions.Path, *exact, func(p string) (statter, error) {
		return store.OpenSessions(store.SessionsOptions{Path: p, ReadOnly: true})
	}); err != nil {
		return fmt.Errorf("stores stats: %w", err)
	}
	if rep.Audit, err = offlineStats(cfg.Engine.Audit.Path, *exact, func(p string) (statter, error) {
		return store.OpenAudit(store.AuditOptions{Path: p, ReadOnly: true})
	}); err != nil {
		return fmt.Errorf("stores stats: %w", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

type statter interface {
	Stats() (store.Stats, error)
	Count() (store.RowCount, error)
	Close() error
}

func offlineStats(path string, exact bool, open func(string) (statter, error)) (app.StoreReport, error) {
	s, err := open(path)
	if err != nil {
		return app.StoreReport{}, err
	}
	defer s.Close()
	st, err := s.Stats()
	if err != nil {
		return app.StoreReport{}, err
	}
	rep := app.StoreReport{Path: path, Stats: st}
	if exact {
		c, err := s.Count()
		if err != nil {
			return app.StoreReport{}, err
		}
		rep.Rows = &c
	}
	return rep, nil
}
