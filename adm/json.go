package adm

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/vs"
)

// The --json listings (a ulvs extension; docs/ulvsadm.md is the reference).
// Field names are snake_case and stable: new fields may be added, none is
// renamed or removed. Addresses are always numeric, whether or not -n is
// given; every count is a JSON number. The column options (--stats,
// --rate, --thresholds, --persistent-conn, --tun-info, --exact) do not
// change the document: it always carries every field. Sorting follows the
// text listing (and --nosort).

// jsonListing is -L --json.
type jsonListing struct {
	Version       string        `json:"version"`
	ConnTableSize int           `json:"conn_table_size"`
	Services      []jsonService `json:"services"`
}

// jsonService is one virtual service: either an address service
// (protocol, address, port) or a firewall-mark service (fwmark).
type jsonService struct {
	Protocol string  `json:"protocol,omitempty"`
	Address  string  `json:"address,omitempty"`
	Port     *uint16 `json:"port,omitempty"`
	FwMark   uint32  `json:"fwmark,omitempty"`
	// Family is "ipv6" for an IPv6 fwmark service (ipvsadm -f N -6),
	// absent otherwise: an address service's family is its address's.
	Family             string     `json:"family,omitempty"`
	Scheduler          string     `json:"scheduler"`
	SchedFlags         []string   `json:"sched_flags"`
	Persistent         bool       `json:"persistent"`
	PersistenceTimeout uint32     `json:"persistence_timeout"`
	PersistenceNetmask string     `json:"persistence_netmask"`
	OnePacket          bool       `json:"one_packet"`
	SynProxy           bool       `json:"synproxy"` // ulvs addition
	Stats              jsonStats  `json:"stats"`
	Rates              jsonRates  `json:"rates"`
	Dests              []jsonDest `json:"dests"`
}

type jsonDest struct {
	Address         string    `json:"address"`
	Port            uint16    `json:"port"`
	Forward         string    `json:"forward"`
	TunnelType      string    `json:"tunnel_type,omitempty"`
	Weight          int32     `json:"weight"`
	UpperThreshold  uint32    `json:"upper_threshold"`
	LowerThreshold  uint32    `json:"lower_threshold"`
	ActiveConns     int32     `json:"active_conns"`
	InactiveConns   int32     `json:"inactive_conns"`
	PersistentConns int32     `json:"persistent_conns"`
	Stats           jsonStats `json:"stats"`
	Rates           jsonRates `json:"rates"`
}

type jsonStats struct {
	Conns      uint64 `json:"conns"`
	InPackets  uint64 `json:"in_packets"`
	OutPackets uint64 `json:"out_packets"`
	InBytes    uint64 `json:"in_bytes"`
	OutBytes   uint64 `json:"out_bytes"`
}

type jsonRates struct {
	CPS    uint64 `json:"cps"`
	InPPS  uint64 `json:"in_pps"`
	OutPPS uint64 `json:"out_pps"`
	InBPS  uint64 `json:"in_bps"`
	OutBPS uint64 `json:"out_bps"`
}

// jsonConns is -L -c --json.
type jsonConns struct {
	Connections []jsonConn `json:"connections"`
}

type jsonConn struct {
	Protocol       string `json:"protocol"` // "tcp", "udp", "sctp"; "ip" for a template
	ExpiresSeconds uint32 `json:"expires_seconds"`
	State          string `json:"state"`
	ClientAddress  string `json:"client_address"`
	ClientPort     uint16 `json:"client_port"`
	VirtualAddress string `json:"virtual_address"`
	VirtualPort    uint16 `json:"virtual_port"`
	DestAddress    string `json:"dest_address"`
	DestPort       uint16 `json:"dest_port"`
	PEName         string `json:"pe_name,omitempty"`
	PEData         string `json:"pe_data,omitempty"`
}

// jsonTimeouts is -L --timeout --json.
type jsonTimeouts struct {
	Timeouts struct {
		TCP    uint32 `json:"tcp"`
		TCPFin uint32 `json:"tcp_fin"`
		UDP    uint32 `json:"udp"`
	} `json:"timeouts"`
}

// jsonDaemons is -L --daemon --json: the running sync daemons, master
// first, with the fields ipvsadm prints.
type jsonDaemons struct {
	Daemons []jsonDaemon `json:"daemons"`
}

type jsonDaemon struct {
	State     string `json:"state"`
	Interface string `json:"mcast_interface"`
	SyncID    uint8  `json:"syncid"`
	MaxLen    int    `json:"maxlen"`
	Group     string `json:"group"`
	Port      uint16 `json:"port"`
	TTL       uint8  `json:"ttl"`
}

func daemonsJSON(ds []ctl.DaemonStatus) jsonDaemons {
	out := jsonDaemons{Daemons: []jsonDaemon{}}
	for _, d := range ds {
		out.Daemons = append(out.Daemons, jsonDaemon{State: d.State, Interface: d.Interface, SyncID: d.SyncID,
			MaxLen: d.MaxLen, Group: addrJSON(d.Group), Port: d.Port, TTL: d.TTL})
	}
	return out
}

func statsJSON(s ctl.Stats) (jsonStats, jsonRates) {
	return jsonStats{s.Conns, s.InPkts, s.OutPkts, s.InBytes, s.OutBytes},
		jsonRates{s.CPS, s.InPPS, s.OutPPS, s.InBPS, s.OutBPS}
}

func addrJSON(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func serviceJSON(s *ctl.ServiceStatus, nosort bool) jsonService {
	js := jsonService{
		Scheduler:          s.Scheduler,
		SchedFlags:         []string{},
		Persistent:         s.Persistent,
		PersistenceNetmask: "255.255.255.255",
		OnePacket:          s.OnePacket,
		SynProxy:           s.SynProxy,
		Dests:              []jsonDest{},
	}
	if js.Scheduler == "" {
		js.Scheduler = config.DefaultScheduler
	}
	if f := schedFlags(s); f != "" {
		js.SchedFlags = strings.Split(f, ",")
	}
	if s.Persistent {
		js.PersistenceTimeout = s.Timeout
	}
	switch {
	case s.IPv6():
		// IPv6: a prefix length, as -M and -S write it.
		js.PersistenceNetmask = strconv.Itoa(config.MaskBits(s.Netmask, true))
	case s.Netmask.IsValid():
		js.PersistenceNetmask = s.Netmask.String()
	}
	if s.FwMark != 0 {
		js.FwMark = s.FwMark
		if s.IPv6() {
			js.Family = "ipv6"
		}
	} else {
		port := s.Port
		js.Protocol, js.Address, js.Port = strings.ToLower(protoName(s.Proto)), addrJSON(s.Addr), &port
	}
	js.Stats, js.Rates = statsJSON(s.Stats)
	dests := s.Dests
	if !nosort {
		dests = append([]ctl.DestStatus(nil), dests...)
		msort(dests, cmpDests)
	}
	for i := range dests {
		d := &dests[i]
		jd := jsonDest{
			Address:         addrJSON(d.Addr),
			Port:            d.Port,
			Forward:         strings.ToLower(fwdName(d.Method)),
			Weight:          d.Weight,
			UpperThreshold:  d.UThreshold,
			LowerThreshold:  d.LThreshold,
			ActiveConns:     d.ActiveConns,
			InactiveConns:   d.InactConns,
			PersistentConns: d.PersistConns,
		}
		if d.Method == vs.Tunnel {
			jd.TunnelType = config.TunnelIPIP
		}
		jd.Stats, jd.Rates = statsJSON(d.Stats)
		js.Dests = append(js.Dests, jd)
	}
	return js
}

// listingJSON renders the services of snap (all of them, or only the one
// c names) for -L --json.
func listingJSON(snap *ctl.Snapshot, only *config.ServiceKey, nosort bool) jsonListing {
	info := snap.Info()
	out := jsonListing{Version: info.Version, ConnTableSize: info.ConnTableSize, Services: []jsonService{}}
	svcs := snap.Services
	if !nosort {
		svcs = append([]ctl.ServiceStatus(nil), svcs...)
		msort(svcs, cmpServices)
	}
	for i := range svcs {
		if only != nil && svcs[i].Key() != *only {
			continue
		}
		out.Services = append(out.Services, serviceJSON(&svcs[i], nosort))
	}
	return out
}

func connsJSON(conns []ctl.ConnStatus) jsonConns {
	out := jsonConns{Connections: []jsonConn{}}
	for _, c := range conns {
		proto := "ip"
		if c.Proto != 0 {
			proto = strings.ToLower(protoName(c.Proto))
		}
		state := c.State
		if state == "" {
			state = "NONE"
		}
		out.Connections = append(out.Connections, jsonConn{
			Protocol:       proto,
			ExpiresSeconds: c.Expires,
			State:          state,
			ClientAddress:  addrJSON(c.Client.Addr()),
			ClientPort:     c.Client.Port(),
			VirtualAddress: addrJSON(c.Virtual.Addr()),
			VirtualPort:    c.Virtual.Port(),
			DestAddress:    addrJSON(c.Dest.Addr()),
			DestPort:       c.Dest.Port(),
			PEName:         c.PEName,
			PEData:         c.PEData,
		})
	}
	return out
}

// writeJSON writes v indented by two spaces, with a final newline.
func (r *run) writeJSON(v any) (int, bool) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		r.out.Flush()
		fmt.Fprintf(r.Stderr, "%v\n", err)
		return exitList, true
	}
	r.out.Write(b)
	r.out.WriteString("\n")
	return exitOK, false
}
