//go:build !race

package sched

// raceEnabled reports a -race build, under which allocation counts are not
// meaningful.
const raceEnabled = false
