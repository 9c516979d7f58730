package ipvssync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
)

// SenderConfig configures a Sender. Zero fields take the kernel's defaults.
type SenderConfig struct {
	// Interface is the sync interface (--mcast-interface); required.
	Interface string
	Group     netip.Addr // IPv4 multicast group; zero: DefaultGroup()
	Port      uint16     // zero: DefaultPort
	TTL       uint8      // zero: DefaultTTL
	// SockSize is sync_sock_size: SO_SNDBUF; 0 keeps the system default.
	SockSize int
	Logger   *slog.Logger // nil: discard
}

// Sender sends sync messages to the multicast group out of one interface,
// as the kernel's master socket does (make_send_sock): IP_MULTICAST_IF by
// interface index, multicast loop off, the configured TTL, DF clear
// (IP_PMTUDISC_DONT), bound to the interface's first IPv4 address and an
// ephemeral port, connected to the group and port. Its methods are safe
// for concurrent use.
type Sender struct {
	conn   *net.UDPConn
	log    *slog.Logger
	sent   atomic.Uint64
	failed atomic.Uint64
}

// NewSender opens a Sender. The socket is created in the network namespace
// of the calling OS thread: a caller switching namespaces must call it on
// the locked thread that is in the right one (DESIGN.md, "Network
// namespaces and Go"). It fails with an error wrapping ErrNotSupported on
// systems other than Linux.
func NewSender(cfg SenderConfig) (*Sender, error) {
	cfg, err := senderDefaults(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := openSender(cfg)
	if err != nil {
		return nil, fmt.Errorf("open sync sender on %s to %s:%d: %w", cfg.Interface, cfg.Group, cfg.Port, err)
	}
	return &Sender{conn: conn, log: cfg.Logger}, nil
}

func senderDefaults(cfg SenderConfig) (SenderConfig, error) {
	if cfg.Interface == "" {
		return cfg, errors.New("sync sender: no interface")
	}
	if !cfg.Group.IsValid() {
		cfg.Group = DefaultGroup()
	}
	if !cfg.Group.Is4() || !cfg.Group.IsMulticast() {
		return cfg, fmt.Errorf("sync group %s: not an IPv4 multicast address", cfg.Group)
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// LocalAddr returns the address and port the messages come from.
func (s *Sender) LocalAddr() netip.AddrPort {
	return s.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Send sends one message (a whole UDP payload). msg is not kept.
func (s *Sender) Send(msg []byte) error {
	if _, err := s.conn.Write(msg); err != nil {
		s.failed.Add(1)
		return fmt.Errorf("send sync message: %w", err)
	}
	s.sent.Add(1)
	return nil
}

// Run sends every message received from msgs until ctx is done or msgs is
// closed, then closes the Sender. A failed send is counted and logged, and
// Run goes on, as the kernel's master thread does. It returns nil when ctx
// ended it or msgs was closed.
func (s *Sender) Run(ctx context.Context, msgs <-chan []byte) error {
	defer s.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-msgs:
			if !ok {
				return nil
			}
			if err := s.Send(m); err != nil {
				s.log.Warn("sync send failed", "err", err)
			}
		}
	}
}

// SenderStats counts messages sent and failed.
type SenderStats struct{ Sent, Failed uint64 }

// Stats returns the counters.
func (s *Sender) Stats() SenderStats {
	return SenderStats{Sent: s.sent.Load(), Failed: s.failed.Load()}
}

// Close closes the socket. Closing twice is harmless.
func (s *Sender) Close() error {
	if err := s.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close sync sender: %w", err)
	}
	return nil
}

// ReceiverConfig configures a Receiver. Zero fields take the kernel's
// defaults.
type ReceiverConfig struct {
	// Interface is the sync interface (--mcast-interface); required.
	Interface string
	Group     netip.Addr // IPv4 multicast group; zero: DefaultGroup()
	Port      uint16     // zero: DefaultPort
	// SyncID is the backup's syncid: 0 takes messages of every syncid.
	SyncID uint8
	// MaxLen is the receive buffer (--sync-maxlen): larger messages are
	// truncated and dropped. 0 means the kernel's backup default, the
	// interface's MTU (at least 1500) minus 28; smaller values are raised
	// to 1024, as the kernel clamps them.
	MaxLen int
	// SockSize is sync_sock_size: SO_RCVBUF; 0 keeps the system default.
	SockSize int
	Logger   *slog.Logger // nil: discard
}

// ReceiverStats counts what a Receiver got.
type ReceiverStats struct {
	Messages    uint64 // messages delivered (whole or in part)
	Entries     uint64 // entries delivered
	Skipped     uint64 // entries skipped inside delivered messages
	BadMessages uint64 // messages that failed to decode (wholly or in part)
	WrongSyncID uint64 // messages dropped for another syncid
	Truncated   uint64 // messages longer than MaxLen, dropped
}

// Receiver joins the sync group on one interface and decodes what
// arrives, as the kernel's backup socket does (make_receive_sock):
// SO_REUSEADDR, bound to the interface (SO_BINDTODEVICE) and to the group
// address and port, member of the group on that interface. Its methods are
// safe for concurrent use; Run is called once.
type Receiver struct {
	conn   *net.UDPConn
	syncID uint8
	maxLen int
	log    *slog.Logger

	messages, entries, skipped, bad, wrongID, truncated atomic.Uint64
}

// NewReceiver opens a Receiver. Like NewSender, the socket is created in
// the network namespace of the calling OS thread.
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	scfg, err := senderDefaults(SenderConfig{Interface: cfg.Interface, Group: cfg.Group, Port: cfg.Port, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	cfg.Group, cfg.Port, cfg.Logger = scfg.Group, scfg.Port, scfg.Logger
	if cfg.MaxLen < 0 || cfg.MaxLen > MaxMaxLen {
		return nil, fmt.Errorf("sync maxlen %d: want 1..%d", cfg.MaxLen, MaxMaxLen)
	}
	conn, maxLen, err := openReceiver(cfg)
	if err != nil {
		return nil, fmt.Errorf("open sync receiver on %s for %s:%d: %w", cfg.Interface, cfg.Group, cfg.Port, err)
	}
	return &Receiver{conn: conn, syncID: cfg.SyncID, maxLen: maxLen, log: cfg.Logger}, nil
}

// Run reads messages until ctx is done, then closes the Receiver and
// returns nil; it returns an error if reading fails otherwise. Each
// message accepted (see Accept) is decoded and handed to deliver on Run's
// goroutine, with the sender's address; deliver owns the Message. A
// message that fails to decode part-way is counted as bad and its entries
// before the failure are still delivered, as the kernel applies them.
func (r *Receiver) Run(ctx context.Context, deliver func(from netip.AddrPort, m Message)) error {
	stop := context.AfterFunc(ctx, func() { r.conn.Close() })
	defer stop()
	defer r.Close()
	buf := make([]byte, r.maxLen+1)
	for {
		n, _, flags, from, err := r.conn.ReadMsgUDPAddrPort(buf, nil)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("receive sync message: %w", err)
		}
		if n > r.maxLen || flags&msgTrunc != 0 {
			r.truncated.Add(1)
			r.log.Debug("sync message longer than maxlen dropped", "from", from, "maxlen", r.maxLen)
			continue
		}
		r.handle(from, buf[:n], deliver)
	}
}

func (r *Receiver) handle(from netip.AddrPort, msg []byte, deliver func(netip.AddrPort, Message)) {
	m, err := Decode(msg)
	var de *DecodeError
	if err != nil && errors.As(err, &de) && de.Entry < 0 {
		r.bad.Add(1)
		r.log.Debug("bad sync message", "from", from, "err", err)
		return
	}
	if !Accept(r.syncID, m.SyncID) {
		r.wrongID.Add(1)
		return
	}
	if err != nil {
		r.bad.Add(1)
		r.log.Debug("bad sync message", "from", from, "err", err, "entries_before", len(m.Entries))
	}
	for _, s := range m.Skipped {
		r.log.Debug("sync entry skipped", "from", from, "err", s)
	}
	if len(m.Entries) == 0 && err != nil {
		return
	}
	r.messages.Add(1)
	r.entries.Add(uint64(len(m.Entries)))
	r.skipped.Add(uint64(len(m.Skipped)))
	deliver(from, m)
}

// Stats returns the counters.
func (r *Receiver) Stats() ReceiverStats {
	return ReceiverStats{
		Messages: r.messages.Load(), Entries: r.entries.Load(), Skipped: r.skipped.Load(),
		BadMessages: r.bad.Load(), WrongSyncID: r.wrongID.Load(), Truncated: r.truncated.Load(),
	}
}

// MaxLen returns the receive limit in use.
func (r *Receiver) MaxLen() int { return r.maxLen }

// Close closes the socket, leaving the group. Closing twice is harmless.
func (r *Receiver) Close() error {
	if err := r.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close sync receiver: %w", err)
	}
	return nil
}
