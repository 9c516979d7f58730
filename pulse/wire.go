package pulse

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Magic is a heartbeat's whole content: pulse.c sends one unsigned int in
// the sending host's byte order (no htonl), so on the x86 directors
// Piranha ran on it is little-endian on the wire. Encode and Decode use
// little-endian.
type Magic uint32

// The heartbeat values of pulse.c.
const (
	// Running says the sender runs the virtual servers (is active).
	Running Magic = 0xbdaddbda
	// Stopped says the sender is inactive.
	Stopped Magic = 0xadbddabd
	// Hold and Held are accepted by pulse but their handling is disabled
	// ("hold and held heartbeat logic incomplete"): they only prove the
	// partner alive. ulvs never sends them.
	Hold Magic = 0xdeafbabe
	Held Magic = 0xdeafdada
	// StopMe is the failover-services (fos) "I take control" message; a
	// partner sending it is running. ulvs never sends it.
	StopMe Magic = 0xdeaddada
	// FOSRunning and FOSStopped are what pulse sends instead of Running
	// and Stopped when lvs.cf says service = fos; an lvs pulse rejects
	// them as incompatible, and so does Decode.
	FOSRunning Magic = 0xbeefbabe
	FOSStopped Magic = 0xdeadbeef
)

// Size is the length of a heartbeat datagram.
const Size = 4

// Errors Decode wraps.
var (
	// ErrLength is a datagram that is not 4 bytes long.
	ErrLength = errors.New("pulse heartbeat: wrong length")
	// ErrFOS is a heartbeat of a partner running failover services.
	ErrFOS = errors.New("pulse heartbeat: partner runs failover services (service = fos), not lvs")
	// ErrMagic is any other value.
	ErrMagic = errors.New("pulse heartbeat: unknown magic")
)

// String names a magic as pulse's source does.
func (m Magic) String() string {
	switch m {
	case Running:
		return "running"
	case Stopped:
		return "stopped"
	case Hold:
		return "hold"
	case Held:
		return "held"
	case StopMe:
		return "stopme"
	case FOSRunning:
		return "fos-running"
	case FOSStopped:
		return "fos-stopped"
	}
	return fmt.Sprintf("0x%08x", uint32(m))
}

// known reports whether m is a value some pulse sends.
func (m Magic) known() bool {
	switch m {
	case Running, Stopped, Hold, Held, StopMe, FOSRunning, FOSStopped:
		return true
	}
	return false
}

// Encode returns the datagram for m.
func Encode(m Magic) []byte {
	return binary.LittleEndian.AppendUint32(make([]byte, 0, Size), uint32(m))
}

// Decode reads one heartbeat datagram. It accepts what an lvs pulse
// accepts (running, stopped, stopme, hold, held) and says precisely why
// anything else is refused, a big-endian sender included.
func Decode(b []byte) (Magic, error) {
	if len(b) != Size {
		return 0, fmt.Errorf("%w: %d bytes, want %d", ErrLength, len(b), Size)
	}
	m := Magic(binary.LittleEndian.Uint32(b))
	switch {
	case m == FOSRunning || m == FOSStopped:
		return 0, fmt.Errorf("%w: got %v", ErrFOS, m)
	case m.known():
		return m, nil
	case Magic(bits.ReverseBytes32(uint32(m))).known():
		return 0, fmt.Errorf("%w: % x is %v in big-endian byte order (pulse sends host byte order: the partner is a big-endian host)",
			ErrMagic, b, Magic(bits.ReverseBytes32(uint32(m))))
	}
	return 0, fmt.Errorf("%w: % x (0x%08x)", ErrMagic, b, uint32(m))
}
