package main

import (
	"errors"
	"io"
)

// auditCmd is not built yet; it is tracked by an open issue.
func auditCmd(_ []string, _, _ io.Writer) error { return errors.New("auditCmd: not implemented yet") }
