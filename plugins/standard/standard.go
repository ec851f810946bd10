// Package standard imports Veltrix's built-in modules, so that they register
// themselves. cmd/veltrix blank-imports it; a custom build lists its own set
// in a file like this one.
package standard

import (
	// Games.
	_ "github.com/veltrix/veltrix/games/treasurehunt"

	// Auth.
	_ "github.com/veltrix/veltrix/plugins/auth/anonymous"
	_ "github.com/veltrix/veltrix/plugins/auth/token"

	// Audit sinks.
	_ "github.com/veltrix/veltrix/plugins/audit/jsonl"

	// Brokers.
	_ "github.com/veltrix/veltrix/plugins/broker/embedded"
	_ "github.com/veltrix/veltrix/plugins/broker/kafka"
)
