package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// OpenStores opens the engine's two stores, as OpenSessions and OpenAudit
// do, with two more guarantees:
//
//   - They are created together. When one store's directory exists and the
//     other's does not, nothing is opened or created and the error (matching
//     ErrMissing) names the missing one: an audit store on another disk that
//     is not mounted would otherwise be created afresh on the wrong disk
//     beside a full sessions store. An empty directory counts as existing,
//     so `mkdir` is how an operator starts one of them empty on purpose.
//   - They open in parallel: a restart waits for the slower, not for both.
//
// On error no store is left open.
func OpenStores(so SessionsOptions, ao AuditOptions) (*Sessions, *Audit, error) {
	if so.Path == "" || ao.Path == "" {
		return nil, nil, errors.New("open stores: empty path")
	}
	if filepath.Clean(so.Path) == filepath.Clean(ao.Path) {
		return nil, nil, fmt.Errorf("open stores: sessions and audit share the directory %s", so.Path)
	}
	sOK, err := dirExists(so.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("sessions store %s: %w", so.Path, err)
	}
	aOK, err := dirExists(ao.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("audit store %s: %w", ao.Path, err)
	}
	switch {
	case sOK && !aOK:
		return nil, nil, missingError("audit", ao.Path, "sessions", so.Path)
	case aOK && !sOK:
		return nil, nil, missingError("sessions", so.Path, "audit", ao.Path)
	}

	var (
		wg         sync.WaitGroup
		s          *Sessions
		a          *Audit
		sErr, aErr error
	)
	wg.Go(func() { s, sErr = OpenSessions(so) })
	wg.Go(func() { a, aErr = OpenAudit(ao) })
	wg.Wait()
	if sErr != nil || aErr != nil {
		if s != nil {
			_ = s.Close()
		}
		if a != nil {
			_ = a.Close()
		}
		if sErr != nil {
			sErr = fmt.Errorf("sessions store: %w", sErr)
		}
		if aErr != nil {
			aErr = fmt.Errorf("audit store: %w", aErr)
		}
		return nil, nil, errors.Join(sErr, aErr)
	}
	return s, a, nil
}

func dirExists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

func missingError(name, path, other, otherPath string) error {
	return fmt.Errorf("%s store %s: %w, but the %s store %s exists: the two are created together. "+
		"If the %s store's disk is not mounted, mount it; to start it empty on purpose, create the directory (mkdir -p %s)",
		name, path, ErrMissing, other, otherPath, name, path)
}
