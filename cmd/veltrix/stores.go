package main

import (
	"errors"
	"io"
)

// storesCmd is not built yet; it is tracked by an open issue.
func storesCmd(_ []string, _, _ io.Writer) error { return errors.New("storesCmd: not implemented yet") }
