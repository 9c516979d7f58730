package forward

// DR rewrites frame for direct routing: the Ethernet destination becomes the
// real server's MAC and the source the director's. No checksummed byte
// changes, so a pending (CHECKSUM_PARTIAL) checksum or a GSO super-frame
// travels on as it came. (The TTL decrement every forwarded packet gets is
// the caller's.)
func DR(frame []byte, dst, src [6]byte) {
	copy(frame[0:6], dst[:])
	copy(frame[6:12], src[:])
}
