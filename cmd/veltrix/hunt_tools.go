package main

import (
	"errors"
	"io"
)

// huntValidateCmd is not built yet; it is tracked by an open issue.
func huntValidateCmd(_ []string, _, _ io.Writer) error {
	return errors.New("huntValidateCmd: not implemented yet")
}

// huntSimulateCmd is not built yet; it is tracked by an open issue.
func huntSimulateCmd(_ []string, _, _ io.Writer) error {
	return errors.New("huntSimulateCmd: not implemented yet")
}
