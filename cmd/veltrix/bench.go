package main

import (
	"errors"
	"io"
)

// benchCmd is not built yet; it is tracked by an open issue.
func benchCmd(_ []string, _, _ io.Writer) error { return errors.New("benchCmd: not implemented yet") }
