// Package jsonl is the "jsonl" audit sink (veltrix.audit.jsonl): it writes
// the audit rows the engine exports (those older than
// engine.audit.sink.older_than) to gzip-compressed JSON-lines files, the way
// to long-term storage before the audit store's TTL drops them:
//
//	<dir>/<hunt>/<from>_<to>.jsonl.gz
//
// from and to are the exported range [from, to) as UTC times
// (20300101T000000.000Z), so a listing sorts in time order. Each line is one
// row in the form of `veltrix audit` (store.Row's JSON). A file appears
// whole or not at all: it is written under a temporary name, synced, and
// renamed. Hunt ids are path-escaped in directory names.
//
// Config:
//
//	engine:
//	  audit:
//	    sink:
//	      plugin: jsonl
//	      dir: /mnt/cold/veltrix-audit   # default <data_dir>/audit-export
//	      older_than: 720h               # the engine's: export rows older than this
//	      every: 1h                      # the engine's: how often to look
//
// ReadDir reads the files back (`veltrix audit --from-export DIR`).
package jsonl

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/veltrix/veltrix/engine/app"
	"github.com/veltrix/veltrix/engine/plugin"
	"github.com/veltrix/veltrix/engine/store"
)

func init() {
	plugin.Register(plugin.Info{ID: "veltrix.audit.jsonl", New: func() any { return new(Sink) }})
}

// Sink is the jsonl audit sink.
type Sink struct {
	// Dir receives the files. Default <data_dir>/audit-export; a relative
	// path is relative to the directory the process started in.
	Dir string `koanf:"dir"`
	// Level is the gzip level, 1 (fastest) to 9 (smallest). Default 6.
	Level int `koanf:"level"`
}

// Provision resolves and creates Dir.
func (s *Sink) Provision(ctx plugin.Context) error {
	if s.Dir == "" {
		s.Dir = filepath.Join(ctx.DataDir, "audit-export")
	}
	if !filepath.IsAbs(s.Dir) && ctx.BaseDir != "" {
		s.Dir = filepath.Join(ctx.BaseDir, s.Dir)
	}
	if s.Level == 0 {
		s.Level = 6
	}
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return fmt.Errorf("dir: %w", err)
	}
	return nil
}

// Validate implements plugin.Validator.
func (s *Sink) Validate() error {
	if s.Level < gzip.BestSpeed || s.Level > gzip.BestCompression {
		return fmt.Errorf("level: must be 1-9, got %d", s.Level)
	}
	return nil
}

// fileTime is the time format of file names: sortable, no ':'.
const fileTime = "20060102T150405.000Z"

const ext = ".jsonl.gz"

// huntDir is the directory of hunt's files.
func huntDir(dir, hunt string) string {
	name := url.PathEscape(hunt)
	if name == "." || name == ".." || strings.HasPrefix(name, ".") {
		name = "%2E" + name[1:] // never a hidden or relative directory
	}
	return filepath.Join(dir, name)
}

// fileName is the name of the file holding [from, to).
func fileName(from, to int64) string {
	return time.UnixMilli(from).UTC().Format(fileTime) + "_" + time.UnixMilli(to).UTC().Format(fileTime) + ext
}

// parseName reads fileName's output; ok is false for other files.
func parseName(name string) (from, to int64, ok bool) {
	base, found := strings.CutSuffix(name, ext)
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(base, "_")
	if !found {
		return 0, 0, false
	}
	ft, err1 := time.Parse(fileTime, a)
	tt, err2 := time.Parse(fileTime, b)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return ft.UnixMilli(), tt.UnixMilli(), true
}

// file is one export file.
type file struct {
	path     string
	from, to int64
}

// files lists hunt's export files in time order.
func files(dir, hunt string) ([]file, error) {
	hd := huntDir(dir, hunt)
	entries, err := os.ReadDir(hd)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []file
	for _, e := range entries {
		if from, to, ok := parseName(e.Name()); ok && e.Type().IsRegular() {
			out = append(out, file{path: filepath.Join(hd, e.Name()), from: from, to: to})
		}
	}
	slices.SortFunc(out, func(a, b file) int {
		if a.from != b.from {
			return cmp.Compare(a.from, b.from)
		}
		return cmp.Compare(a.to, b.to)
	})
	return out, nil
}

// Exported implements app.AuditSink: the end of the latest file of hunt.
func (s *Sink) Exported(hunt string) (int64, error) {
	fs, err := files(s.Dir, hunt)
	if err != nil {
		return 0, err
	}
	var end int64
	for _, f := range fs {
		end = max(end, f.to)
	}
	return end, nil
}

// Export implements app.AuditSink. The file's from is the first row's time
// when the range starts at 0 (everything before to).
func (s *Sink) Export(ctx context.Context, hunt string, from, to int64, rows func(yield func(store.Row) bool) error) (err error) {
	hd := huntDir(s.Dir, hunt)
	var (
		f   *os.File
		bw  *bufio.Writer
		zw  *gzip.Writer
		enc *json.Encoder
		n   int
	)
	defer func() {
		if f != nil && err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	var werr error
	qerr := rows(func(r store.Row) bool {
		if f == nil {
			if from == 0 {
				from = r.TS
			}
			if werr = os.MkdirAll(hd, 0o750); werr != nil {
				return false
			}
			if f, werr = os.CreateTemp(hd, ".export-*.tmp"); werr != nil {
				return false
			}
			bw = bufio.NewWriterSize(f, 64<<10)
			zw, werr = gzip.NewWriterLevel(bw, s.Level)
			if werr != nil {
				return false
			}
			enc = json.NewEncoder(zw)
		}
		if werr = enc.Encode(r); werr != nil {
			return false
		}
		n++
		if n%4096 == 0 && ctx.Err() != nil {
			werr = ctx.Err()
			return false
		}
		return true
	})
	if err := errors.Join(werr, qerr); err != nil {
		return fmt.Errorf("jsonl sink: hunt %s: %w", hunt, err)
	}
	if f == nil {
		return nil // no rows: no file
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("jsonl sink: %s: %w", f.Name(), err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("jsonl sink: %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("jsonl sink: %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("jsonl sink: %s: %w", f.Name(), err)
	}
	final := filepath.Join(hd, fileName(from, to))
	if err := os.Rename(f.Name(), final); err != nil {
		return fmt.Errorf("jsonl sink: %w", err)
	}
	f = nil // renamed: nothing to remove
	// The rename is durable once the directory is synced.
	if d, err := os.Open(hd); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("jsonl sink: sync %s: %w", hd, err)
		}
	}
	return nil
}

// ReadDir calls fn, in time order, for each row in the export files under
// dir that matches q (hunt, player, since, until, limit, as store.Query),
// until fn returns false.
func ReadDir(dir string, q store.Query, fn func(store.Row) bool) error {
	if q.Hunt == "" {
		return errors.New("jsonl: read: empty hunt id")
	}
	fs, err := files(dir, q.Hunt)
	if err != nil {
		return fmt.Errorf("jsonl: read %s: %w", dir, err)
	}
	n := 0
	for _, f := range fs {
		if q.Until > 0 && f.from >= q.Until || q.Since > 0 && f.to <= q.Since {
			continue
		}
		more, err := readFile(f.path, func(r store.Row) bool {
			if q.Player != "" && r.Player != q.Player || r.TS < q.Since || q.Until > 0 && r.TS >= q.Until {
				return true
			}
			n++
			return fn(r) && (q.Limit == 0 || n < q.Limit)
		})
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// readFile streams one file's rows; more is false when fn stopped.
func readFile(path string, fn func(store.Row) bool) (more bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return false, fmt.Errorf("jsonl: %s: %w", path, err)
	}
	defer zr.Close()
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var r store.Row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return false, fmt.Errorf("jsonl: %s:%d: %w", path, line, err)
		}
		if !fn(r) {
			return false, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("jsonl: %s: %w", path, err)
	}
	return true, nil
}

// Interface guards.
var (
	_ app.AuditSink      = (*Sink)(nil)
	_ plugin.Provisioner = (*Sink)(nil)
	_ plugin.Validator   = (*Sink)(nil)
)
