// Package pcapng writes trace events as a pcapng file (gopacket's pcapgo):
// each traced packet twice, the frame as it arrived (inbound, on the
// interface it came in on) and as it left (outbound, on its egress
// interface), each with the director's decision as the packet's comment,
// which Wireshark shows and `tcpdump -r` reads past.
package pcapng

import (
	"fmt"
	"io"
	"runtime"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ulvs/ulvs/trace"
)

// Writer writes events to a pcapng stream. Not safe for concurrent use.
type Writer struct {
	out io.Writer
	w   *pcapgo.NgWriter
	ifs map[string]int // interface name -> pcapng interface ID
}

// NewWriter returns a Writer on out; the file's header goes out with the
// first frame.
func NewWriter(out io.Writer) *Writer {
	return &Writer{out: out, ifs: map[string]int{}}
}

// iface returns the pcapng interface ID of name, adding it if new.
func (w *Writer) iface(name string) (int, error) {
	if id, ok := w.ifs[name]; ok {
		return id, nil
	}
	intf := pcapgo.NgInterface{Name: name, LinkType: layers.LinkTypeEthernet, SnapLength: trace.MaxSnap, OS: runtime.GOOS}
	if w.w == nil {
		opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Hardware: runtime.GOARCH, OS: runtime.GOOS, Application: "ulvs trace"}}
		nw, err := pcapgo.NewNgWriterInterface(w.out, intf, opts)
		if err != nil {
			return 0, fmt.Errorf("pcapng: %w", err)
		}
		w.w = nw
		w.ifs[name] = 0
		return 0, nil
	}
	id, err := w.w.AddInterface(intf)
	if err != nil {
		return 0, fmt.Errorf("pcapng: %w", err)
	}
	w.ifs[name] = id
	return id, nil
}

// WriteEvent writes the frames of e (none for an event without frames)
// and reports how many it wrote.
func (w *Writer) WriteEvent(e *trace.Event) (int, error) {
	n := 0
	decision := e.Decision()
	for _, f := range []struct {
		frame []byte
		size  int
		iface string
		dir   pcapgo.NgEpbFlag
		tag   string
	}{
		{e.InFrame, e.InLen, e.In, pcapgo.NgEpbFlagDirectionInbound, "in: "},
		{e.OutFrame, e.OutLen, e.Out, pcapgo.NgEpbFlagDirectionOutbound, "out: "},
	} {
		if len(f.frame) == 0 {
			continue
		}
		id, err := w.iface(f.iface)
		if err != nil {
			return n, err
		}
		ci := gopacket.CaptureInfo{Timestamp: e.Time, CaptureLength: len(f.frame), Length: max(f.size, len(f.frame)), InterfaceIndex: id}
		opts := pcapgo.NgPacketOptions{Comments: []string{f.tag + decision}, Flags: &pcapgo.NgEpbFlags{Direction: f.dir}}
		if err := w.w.WritePacketWithOptions(ci, f.frame, opts); err != nil {
			return n, fmt.Errorf("pcapng: %w", err)
		}
		n++
	}
	return n, nil
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	if w.w == nil {
		return nil
	}
	return w.w.Flush()
}
