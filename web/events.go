package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/netip"
	"time"

	"github.com/ulvs/ulvs/adm"
	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
)

// rates is one service's or real server's counters in a live update.
type rates struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	CPS      uint64  `json:"cps"`
	InPPS    uint64  `json:"inpps"`
	OutPPS   uint64  `json:"outpps"`
	InBPS    uint64  `json:"inbps"`
	OutBPS   uint64  `json:"outbps"`
	Conns    uint64  `json:"conns"`
	Active   int64   `json:"active"`
	Inactive int64   `json:"inactive"`
	Weight   int32   `json:"weight"`
	Dests    []rates `json:"dests,omitempty"`
}

// update is one server-sent event: every service's rates and the table as
// ulvsadm -L -n prints it.
type update struct {
	Time     int64   `json:"time"` // Unix milliseconds
	Services []rates `json:"services"`
	Table    string  `json:"table"`
}

func makeUpdate(snap *ctl.Snapshot, now time.Time) update {
	u := update{Time: now.UnixMilli(), Services: []rates{}}
	var b bytes.Buffer
	adm.List(&b, snap, config.ListOptions{})
	u.Table = b.String()
	for _, ss := range snap.Services {
		r := rates{ID: serviceID(ss.Key()), Name: ss.Key().Name(), CPS: ss.Stats.CPS, InPPS: ss.Stats.InPPS, OutPPS: ss.Stats.OutPPS,
			InBPS: ss.Stats.InBPS, OutBPS: ss.Stats.OutBPS, Conns: ss.Stats.Conns}
		for _, d := range ss.Dests {
			dr := rates{ID: netip.AddrPortFrom(d.Addr, d.Port).String(), Name: netip.AddrPortFrom(d.Addr, d.Port).String(),
				CPS: d.Stats.CPS, InPPS: d.Stats.InPPS, OutPPS: d.Stats.OutPPS, InBPS: d.Stats.InBPS, OutBPS: d.Stats.OutBPS,
				Conns: d.Stats.Conns, Active: int64(d.ActiveConns), Inactive: int64(d.InactConns), Weight: d.Weight}
			r.Active += dr.Active
			r.Inactive += dr.Inactive
			r.Dests = append(r.Dests, dr)
		}
		u.Services = append(u.Services, r)
	}
	return u
}

// events streams an update every Interval as server-sent events until the
// client goes away. At most maxStreams run at once.
func (s *Server) events(q *request) {
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		http.Error(q.w, "too many live streams open", http.StatusServiceUnavailable)
		return
	}
	rc := http.NewResponseController(q.w)
	h := q.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	// The server's ReadTimeout would end a stream that outlives it.
	rc.SetReadDeadline(time.Time{})
	q.w.WriteHeader(http.StatusOK)
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		snap := s.cfg.Director.Snapshot()
		data, err := json.Marshal(makeUpdate(&snap, s.cfg.Now()))
		if err != nil {
			return
		}
		// Writes are bounded so that a stalled client cannot hold the
		// stream for ever.
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := q.w.Write(append(append([]byte("event: stats\ndata: "), data...), "\n\n"...)); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		// A session that ended (logout, expiry) ends its stream.
		if !s.sessions.alive(q.id) {
			return
		}
		select {
		case <-q.r.Context().Done():
			return
		case <-t.C:
		}
	}
}
