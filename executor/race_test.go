//go:build race

package executor_test

// raceEnabled: the race detector multiplies memory use.
const raceEnabled = true
