//go:build race

package store

// raceEnabled: the race detector slows Go code 5-10x; the heaviest tests
// run a smaller load under it (their full size runs in the normal pass).
const raceEnabled = true
