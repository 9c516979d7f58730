package engine

import "sync"

// memLink is an in-memory link: tests queue frames for recv and read what
// the engine sent. Every received frame gets a fresh buffer with ring-like
// headroom in front of its virtio header.
type memLink struct {
	mu    sync.Mutex
	in    [][]byte // frames (virtio header included) waiting for recv
	out   [][]byte // copies of transmitted frames, virtio header included
	raw   [][]byte
	bufs  [][]byte // slots handed out by the last recv
	pool  [][]byte
	taken int
}

var _ link = (*memLink)(nil)

const memHeadroom = 128

// queue adds an Ethernet frame with an all-zero virtio header.
func (m *memLink) queue(frame []byte) { m.queueVnet(make([]byte, vnetHdrLen), frame) }

func (m *memLink) queueVnet(vnet, frame []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.in = append(m.in, append(append([]byte(nil), vnet...), frame...))
}

func (m *memLink) fd() int { return -1 }

func (m *memLink) collect(batch []packet) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for n < len(batch) && len(m.in) > 0 {
		w := m.in[0]
		m.in = m.in[1:]
		var buf []byte
		if k := len(m.pool); k > 0 {
			buf, m.pool = m.pool[k-1], m.pool[:k-1]
		} else {
			buf = make([]byte, memHeadroom+65600)
		}
		copy(buf[memHeadroom:], w)
		batch[n] = packet{buf: buf, off: memHeadroom + vnetHdrLen, n: len(w) - vnetHdrLen}
		m.bufs = append(m.bufs, buf)
		n++
	}
	return n
}

func (m *memLink) send(batch []*packet) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range batch {
		m.out = append(m.out, append([]byte(nil), p.wire()...))
	}
	return len(batch), nil
}

func (m *memLink) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pool = append(m.pool, m.bufs...)
	m.bufs = m.bufs[:0]
}

func (m *memLink) sendRaw(frame []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.raw = append(m.raw, append([]byte(nil), frame...))
	return nil
}

func (m *memLink) close() error { return nil }

// takeOut returns and clears the transmitted frames, without virtio headers.
func (m *memLink) takeOut() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][]byte, len(m.out))
	for i, w := range m.out {
		out[i] = w[vnetHdrLen:]
	}
	m.out = nil
	return out
}
