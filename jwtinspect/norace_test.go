//go:build !race

package jwtinspect

// raceEnabled: the race detector is on, and allocation counts are not meaningful.
const raceEnabled = false
