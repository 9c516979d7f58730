package forward

// DR rewrites frame for direct routing: the Ethernet destination becomes the
// real server's MAC and the source the director's. Checksums are untouched
// because no covered byte changes, so a pending (CHECKSUM_PARTIAL) checksum
// or a GSO super-frame travels on as it came.
func DR(frame []byte, dst, src [6]byte) {
	copy(frame[0:6], dst[:])
	copy(frame[6:12], src[:])
}
