package web

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

// The scheduler simulator (`ulvs sched` as a page): the director's own
// schedulers (package sched) on a private service of made-up servers, never
// the live table. Bounds keep one request cheap.
const (
	maxSimServers = 16
	maxSimPicks   = 500
	maxSimClients = 1000
)

type simServer struct {
	Name   string
	Weight int32
	Picks  int
	Pct    int // share of the picks, for the bars
}

// simulation is the page's form and its result.
type simulation struct {
	Sched, Servers, N, Clients string
	Conns                      bool
	Errs                       fieldErrors
	Scheds                     []string
	Ran                        bool
	Picks                      []string
	Result                     []simServer
	None                       int
}

// parseSimServers reads "A:4 B:3 C" (commas or spaces): names of
// letters, digits, '.', '-', '_' with an optional weight.
func parseSimServers(s string) ([]simServer, string) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
	if len(fields) == 0 {
		return nil, "name at least one server, like A:4 B:3 C:2"
	}
	if len(fields) > maxSimServers {
		return nil, fmt.Sprintf("at most %d servers", maxSimServers)
	}
	var out []simServer
	for _, f := range fields {
		name, w, hasW := strings.Cut(f, ":")
		if CheckUserName(name) != "" || len(name) > 32 {
			return nil, fmt.Sprintf("%q: a server is a name of letters, digits, '-', '_' or '.', then :WEIGHT", truncate(name, 32))
		}
		sv := simServer{Name: name, Weight: 1}
		if hasW {
			fm := newForm(map[string][]string{"w": {w}})
			sv.Weight = int32(fm.uint("w", 0, maxWeight, 1))
			if !fm.ok() || w == "" {
				return nil, fmt.Sprintf("%s: the weight must be a whole number from 0 to %d", name, maxWeight)
			}
		}
		for _, o := range out {
			if o.Name == name {
				return nil, fmt.Sprintf("%s is named twice", name)
			}
		}
		out = append(out, sv)
	}
	return out, ""
}

// schedPage shows the simulator's form and, when asked, the picks.
func (s *Server) schedPage(q *request) {
	v := q.r.URL.Query()
	f := newForm(v)
	sim := &simulation{Sched: f.str("sched"), Servers: f.str("servers"), N: f.str("n"), Clients: f.str("clients"),
		Conns: f.flag("conns"), Scheds: config.Schedulers()}
	if len(v) == 0 {
		sim.Sched, sim.Servers, sim.N = "wrr", "A:4 B:3 C:2", "18"
		sim.Errs = fieldErrors{}
		s.show(q, http.StatusOK, "sched", "sched", "Scheduler simulator", &page{Data: sim})
		return
	}
	if !config.KnownScheduler(sim.Sched) && f.errs["sched"] == "" {
		f.errs["sched"] = "one of " + strings.Join(config.Schedulers(), ", ")
	}
	n := int(f.uint("n", 1, maxSimPicks, 10))
	clients := int(f.uint("clients", 0, maxSimClients, 0))
	servers, msg := parseSimServers(sim.Servers)
	if msg != "" && f.errs["servers"] == "" {
		f.errs["servers"] = msg
	}
	sim.Errs = f.errs
	if len(f.errs) == 0 {
		if err := simulate(sim, servers, n, clients); err != nil {
			f.errs["sched"] = err.Error()
		}
	}
	status := http.StatusOK
	if len(f.errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	s.show(q, status, "sched", "sched", "Scheduler simulator", &page{Data: sim})
}

// simulate runs sim's scheduler n times, as `ulvs sched` does: servers
// added in order (so the kernel's list is newest first), each pick from a
// new synthetic client, or from clients clients round and round.
func simulate(sim *simulation, servers []simServer, n, clients int) error {
	svc := &vs.Service{ID: 1, Proto: vs.TCP, Addr: netip.AddrFrom4([4]byte{192, 0, 2, 1}), Port: 80}
	dests := make([]*vs.Dest, len(servers))
	for i, sv := range servers {
		dests[i] = &vs.Dest{ID: uint32(i + 1), Addr: netip.AddrFrom4([4]byte{172, 16, 0, byte(i + 1)}), Port: 80,
			Method: vs.Masq, Weight: sv.Weight, State: &vs.DestState{}}
	}
	for i := len(dests) - 1; i >= 0; i-- {
		svc.Dests = append(svc.Dests, dests[i])
	}
	sc, err := sched.New(sim.Sched, svc, nil)
	if err != nil {
		return err
	}
	for k := range n {
		c := k + 1
		if clients > 0 {
			c = k%clients + 1
		}
		fl := vs.Flow{Proto: vs.TCP, Src: netip.AddrFrom4([4]byte{10, byte(c >> 16), byte(c >> 8), byte(c)}), SrcPort: uint16(1023 + c),
			Dst: svc.Addr, DstPort: 80}
		d := sc.Schedule(svc, fl)
		if d == nil {
			sim.None++
			sim.Picks = append(sim.Picks, "-")
			continue
		}
		servers[d.ID-1].Picks++
		sim.Picks = append(sim.Picks, servers[d.ID-1].Name)
		if sim.Conns {
			d.State.ActiveConns.Add(1)
		}
	}
	for i := range servers {
		servers[i].Pct = servers[i].Picks * 100 / n
	}
	sim.Result, sim.Ran = servers, true
	return nil
}
