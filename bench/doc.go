// Package bench measures the director with real traffic: an HTTP load
// generator that reports requests per second and latency percentiles, so
// that a run through the VIP can be compared with the same client hitting a
// real server directly, in the same process and on the same topology.
//
// Figures from one machine are only meaningful as ratios to a baseline
// measured in the same run (these machines are shared and noisy); Compare
// produces exactly that.
package bench
