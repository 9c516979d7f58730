//go:build race

package pkt_test

const raceEnabled = true
