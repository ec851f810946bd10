package main

import (
	"errors"
	"io"
)

// tokenCmd is not built yet; it is tracked by an open issue.
func tokenCmd(_ []string, _, _ io.Writer) error { return errors.New("tokenCmd: not implemented yet") }
