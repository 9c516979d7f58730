//go:build !race

package pkt_test

const raceEnabled = false
