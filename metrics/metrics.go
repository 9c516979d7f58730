// Package metrics serves ulvs's counters to Prometheus: an HTTP /metrics
// endpoint, off unless ulvsd is given an address ([metrics] listen in the
// TOML file, or ulvsd --metrics ADDR). It is a ulvs extension; the kernel's
// IPVS has no such endpoint.
//
// The IPVS metrics follow node_exporter's IPVS collector
// (collector/ipvs_linux.go), with the prefix ulvs_ instead of node_, so
// that dashboards and alerts written for a kernel director work with a
// ulvs one after a rename:
//
//	ulvs_ipvs_connections_total                 counter  all services together
//	ulvs_ipvs_incoming_packets_total            counter
//	ulvs_ipvs_outgoing_packets_total            counter
//	ulvs_ipvs_incoming_bytes_total              counter
//	ulvs_ipvs_outgoing_bytes_total              counter
//	ulvs_ipvs_backend_connections_active        gauge    per real server
//	ulvs_ipvs_backend_connections_inactive      gauge
//	ulvs_ipvs_backend_weight                    gauge
//
// Beyond node_exporter (whose IPVS counters are only the totals above),
// the same counters per virtual service and per real server:
//
//	ulvs_ipvs_service_connections_total, ulvs_ipvs_service_incoming_packets_total,
//	ulvs_ipvs_service_outgoing_packets_total, ulvs_ipvs_service_incoming_bytes_total,
//	ulvs_ipvs_service_outgoing_bytes_total      counter  per service (local_* and proto labels)
//	ulvs_ipvs_backend_connections_total, ulvs_ipvs_backend_incoming_packets_total,
//	ulvs_ipvs_backend_outgoing_packets_total, ulvs_ipvs_backend_incoming_bytes_total,
//	ulvs_ipvs_backend_outgoing_bytes_total      counter  per real server (backend labels)
//
// The backend metrics carry node_exporter's labels local_address,
// local_port, remote_address, remote_port, proto and local_mark, with the
// values procfs reads from /proc/net/ip_vs: proto "TCP" or "UDP" and an
// empty local_mark for an address service; proto "FWM", an empty
// local_address, local_port "0" and the mark as 8 hex digits for a
// firewall-mark service.
//
// The data path's own counters (snapshot Engine) follow:
//
//	ulvs_engine_drops_total{reason="..."}   counter  one series per drop reason
//	ulvs_engine_<name>_total                counter  rx_frames, rx_bytes,
//	                                                 tx_frames, tx_bytes, ...
//
// The connection tables and the defence ladder (snapshot Defense), gauges:
//
//	ulvs_conn_table_slots{kind="conns|capacity|free"}            connections held, holdable, room left
//	ulvs_defense_mode{defense="drop_entry|drop_packet|secure_tcp"} the mode 0..3
//	ulvs_defense_active{defense="..."}                           1 while the defence acts
//	ulvs_defense_drop_rate                                       drop_packet's 1-in-N (0: none)
//
// The data path's workers (snapshot Workers), labelled worker="0", "1", ...:
//
//	ulvs_worker_packets_total      counter  frames received
//	ulvs_worker_batches_total      counter  receive calls that returned frames
//	ulvs_worker_polls_total        counter  sleeps waiting for frames (wake-ups)
//	ulvs_worker_tx_batches_total   counter  transmit batches
//	ulvs_worker_cpu_seconds_total  counter  CPU time of the worker's thread
//	ulvs_worker_ring_drops_total   counter  frames lost to full receive rings
//
// The director's interfaces (snapshot Interfaces), a ulvs extension too:
//
//	ulvs_interface_up{interface="..."}                           gauge    1 while forwarding on it
//	ulvs_interface_last_change_timestamp_seconds{interface="..."} gauge    when its state last changed
//	ulvs_interface_losses_total{interface="..."}                 counter  times it was lost (deleted, down, failed)
//
// The connection sync daemons (snapshot Daemons), one series per running
// daemon, labelled state="master" or "backup":
//
//	ulvs_sync_<name>_total{state="..."}     counter  master: entries, messages,
//	                                                 sent, send_failed,
//	                                                 queue_dropped, ...;
//	                                                 backup: messages, entries,
//	                                                 created, updated, no_dest, ...
//
// # Concurrency
//
// Each scrape calls the Source once and reports that one snapshot; a
// Collector keeps no state between scrapes and is safe for concurrent use.
// Handler builds its own registry: nothing is registered globally.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/healthcheck"
	"github.com/ulvs/ulvs/vrrp"
)

// Source returns the snapshot one scrape reports: the director's
// Snapshot, or a ctl.Client's.
type Source func() (ctl.Snapshot, error)

// Backend label names, node_exporter's.
var backendLabels = []string{"local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark"}

const namespace = "ulvs"

// Collector is a prometheus.Collector reading a Snapshot on each scrape.
// It is an unchecked collector (Describe sends nothing) because the
// engine's counter names come with the snapshot.
type Collector struct {
	src Source

	connections, inPackets, outPackets, inBytes, outBytes *prometheus.Desc
	active, inactive, weight                              *prometheus.Desc
	// svc and dest are the five counters per service and per backend.
	svc, dest   [5]*prometheus.Desc
	drops       *prometheus.Desc
	scrapeError *prometheus.Desc
	// Health checks: per real server, per checker, per service.
	serverUp, checkUp, checkTransitions, quorumUp *prometheus.Desc
	// Failover (VRRP) instances.
	vrrpMaster, vrrpPriority, vrrpBecameMaster, vrrpAdvertsIn *prometheus.Desc
	// ifUp, ifChange and ifLosses describe the interfaces.
	ifUp, ifChange, ifLosses *prometheus.Desc
	// markRules counts the iptables/nft mark rules by state (used,
	// refused); markReadError is 1 while they cannot be read.
	markRules, markReadError *prometheus.Desc
	// connTable is the connection tables' fill by kind (conns,
	// capacity, free); defenseMode, defenseOn and dropRate the defence
	// ladder.
	connTable, defenseMode, defenseOn, dropRate *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector reporting the snapshots of src.
func NewCollector(src Source) *Collector {
	ipvs := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "ipvs", name), help, labels, nil)
	}
	vrrpDesc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "vrrp", name), help, []string{"instance", "interface", "vrid"}, nil)
	}
	check := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "check", name), help, labels, nil)
	}
	return &Collector{
		src:         src,
		connections: ipvs("connections_total", "The total number of connections made.", nil),
		inPackets:   ipvs("incoming_packets_total", "The total number of incoming packets.", nil),
		outPackets:  ipvs("outgoing_packets_total", "The total number of outgoing packets.", nil),
		inBytes:     ipvs("incoming_bytes_total", "The total amount of incoming data.", nil),
		outBytes:    ipvs("outgoing_bytes_total", "The total amount of outgoing data.", nil),
		active:      ipvs("backend_connections_active", "The current active connections by local and remote address.", backendLabels),
		inactive:    ipvs("backend_connections_inactive", "The current inactive connections by local and remote address.", backendLabels),
		weight:      ipvs("backend_weight", "The current backend weight by local and remote address.", backendLabels),
		svc:         counterSet(ipvs, "service", "by virtual service", serviceLabels),
		dest:        counterSet(ipvs, "backend", "by local and remote address", backendLabels),
		drops: prometheus.NewDesc(prometheus.BuildFQName(namespace, "engine", "drops_total"),
			"Frames the data path dropped, by reason.", []string{"reason"}, nil),
		scrapeError: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "snapshot_error"),
			"The director's snapshot could not be read.", nil, nil),
		serverUp: check("server_up", "1 while every health checker of the real server says it is up.", backendLabels),
		checkUp: check("up", "1 while the health checker says the real server is up.",
			append(slices.Clone(backendLabels), "check", "index")),
		checkTransitions: check("transitions_total", "Up/down transitions of the health checker.",
			append(slices.Clone(backendLabels), "check", "index")),
		quorumUp:         check("quorum_up", "1 while the virtual service has its quorum of alive weight.", serviceLabels),
		vrrpMaster:       vrrpDesc("master", "1 while the VRRP instance is master on this director."),
		vrrpPriority:     vrrpDesc("effective_priority", "The VRRP instance's priority with its track weights."),
		vrrpBecameMaster: vrrpDesc("became_master_total", "Times the VRRP instance became master."),
		vrrpAdvertsIn:    vrrpDesc("adverts_received_total", "VRRP adverts the instance received."),
		ifUp: prometheus.NewDesc(prometheus.BuildFQName(namespace, "interface", "up"),
			"1 while the director forwards on the interface, 0 while it is absent, down or broken.", []string{"interface"}, nil),
		ifChange: prometheus.NewDesc(prometheus.BuildFQName(namespace, "interface", "last_change_timestamp_seconds"),
			"When the interface's state last changed, in seconds since the epoch.", []string{"interface"}, nil),
		markRules: prometheus.NewDesc(prometheus.BuildFQName(namespace, "marks", "rules"),
			"The iptables/nft prerouting MARK rules read, by state: used (compiled into the mark classifier) or refused (ulvs cannot express them; see ulvs marks).",
			[]string{"state"}, nil),
		markReadError: prometheus.NewDesc(prometheus.BuildFQName(namespace, "marks", "read_error"),
			"1 while the iptables/nft rules cannot be read (the marks read before stay in force).", nil, nil),
		connTable: prometheus.NewDesc(prometheus.BuildFQName(namespace, "conn_table", "slots"),
			"The connection tables: conns (connections held), capacity (connections they can hold), free (room left, the defences' availmem).", []string{"kind"}, nil),
		defenseMode: prometheus.NewDesc(prometheus.BuildFQName(namespace, "defense", "mode"),
			"The defence's mode 0..3 (drop_entry, drop_packet, secure_tcp); 1 and 2 move by themselves with the room left.", []string{"defense"}, nil),
		defenseOn: prometheus.NewDesc(prometheus.BuildFQName(namespace, "defense", "active"),
			"1 while the defence acts: drop_entry runs, drop_packet drops, secure_tcp's state table is in use.", []string{"defense"}, nil),
		dropRate: prometheus.NewDesc(prometheus.BuildFQName(namespace, "defense", "drop_rate"),
			"drop_packet drops one new connection in this many (0: none).", nil, nil),
		ifLosses: prometheus.NewDesc(prometheus.BuildFQName(namespace, "interface", "losses_total"),
			"Times the director stopped forwarding on the interface (deleted, down, socket failure).", []string{"interface"}, nil),
	}
}

// serviceLabels are the backend labels that name the service.
var serviceLabels = []string{"local_address", "local_port", "proto", "local_mark"}

// counterSet makes the five counter descriptions (connections, packets and
// bytes in and out) of one kind, named KIND_connections_total and so on.
func counterSet(ipvs func(name, help string, labels []string) *prometheus.Desc, kind, by string, labels []string) [5]*prometheus.Desc {
	return [5]*prometheus.Desc{
		ipvs(kind+"_connections_total", "The total number of connections made, "+by+".", labels),
		ipvs(kind+"_incoming_packets_total", "The total number of incoming packets, "+by+".", labels),
		ipvs(kind+"_outgoing_packets_total", "The total number of outgoing packets, "+by+".", labels),
		ipvs(kind+"_incoming_bytes_total", "The total amount of incoming data, "+by+".", labels),
		ipvs(kind+"_outgoing_bytes_total", "The total amount of outgoing data, "+by+".", labels),
	}
}

// values lists the five counters of st in counterSet's order.
func values(st *ctl.Stats) [5]uint64 {
	return [5]uint64{st.Conns, st.InPkts, st.OutPkts, st.InBytes, st.OutBytes}
}

// Describe sends nothing: Collector is unchecked.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads one snapshot and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	snap, err := c.src()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.scrapeError, err)
		return
	}
	var tot ctl.Stats
	type backend struct {
		active, inactive, weight float64
		counters                 [5]uint64
	}
	sums := map[string]*backend{}
	var keys []string
	labels := map[string][]string{}
	for i := range snap.Services {
		s := &snap.Services[i]
		tot.Conns += s.Stats.Conns
		tot.InPkts += s.Stats.InPkts
		tot.OutPkts += s.Stats.OutPkts
		tot.InBytes += s.Stats.InBytes
		tot.OutBytes += s.Stats.OutBytes
		local, port, proto, mark := "", "0", "FWM", ""
		if s.FwMark != 0 {
			mark = fmt.Sprintf("%08X", s.FwMark) // /proc/net/ip_vs: "FWM  %08X"
			local = fwmarkLocal(s.IPv6())
		} else {
			local, port = s.Addr.String(), strconv.Itoa(int(s.Port))
			proto = s.Proto.String()
		}
		for k, v := range values(&s.Stats) {
			ch <- prometheus.MustNewConstMetric(c.svc[k], prometheus.CounterValue, float64(v), local, port, proto, mark)
		}
		for j := range s.Dests {
			d := &s.Dests[j]
			lv := []string{local, port, d.Addr.String(), strconv.Itoa(int(d.Port)), proto, mark}
			// node_exporter sums series whose labels coincide.
			key := strings.Join(lv, "\x00")
			b := sums[key]
			if b == nil {
				b = &backend{}
				sums[key] = b
				keys = append(keys, key)
				labels[key] = lv
			}
			b.active += float64(d.ActiveConns)
			b.inactive += float64(d.InactConns)
			b.weight += float64(d.Weight)
			for k, v := range values(&d.Stats) {
				b.counters[k] += v
			}
		}
	}
	counter := func(d *prometheus.Desc, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	counter(c.connections, tot.Conns)
	counter(c.inPackets, tot.InPkts)
	counter(c.outPackets, tot.OutPkts)
	counter(c.inBytes, tot.InBytes)
	counter(c.outBytes, tot.OutBytes)
	for _, key := range keys {
		b, lv := sums[key], labels[key]
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, b.active, lv...)
		ch <- prometheus.MustNewConstMetric(c.inactive, prometheus.GaugeValue, b.inactive, lv...)
		ch <- prometheus.MustNewConstMetric(c.weight, prometheus.GaugeValue, b.weight, lv...)
		for k, v := range b.counters {
			counter(c.dest[k], v, lv...)
		}
	}
	c.collectChecks(ch, snap.Checks)
	for _, st := range snap.HA {
		lv := []string{st.Name, st.Interface, strconv.Itoa(int(st.VRID))}
		master := 0.0
		if st.State == vrrp.StateMaster {
			master = 1
		}
		ch <- prometheus.MustNewConstMetric(c.vrrpMaster, prometheus.GaugeValue, master, lv...)
		ch <- prometheus.MustNewConstMetric(c.vrrpPriority, prometheus.GaugeValue, float64(st.EffectivePriority), lv...)
		ch <- prometheus.MustNewConstMetric(c.vrrpBecameMaster, prometheus.CounterValue, float64(st.Counters.BecameMaster), lv...)
		ch <- prometheus.MustNewConstMetric(c.vrrpAdvertsIn, prometheus.CounterValue, float64(st.Counters.AdvertsReceived), lv...)
	}
	if d := snap.Defense; d != nil {
		gauge := func(desc *prometheus.Desc, v int, lv ...string) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(v), lv...)
		}
		b01 := map[bool]int{false: 0, true: 1}
		gauge(c.connTable, d.Conns, "conns")
		gauge(c.connTable, d.Capacity, "capacity")
		gauge(c.connTable, d.Free, "free")
		for _, m := range []struct {
			name     string
			mode     int
			inEffect bool
		}{{"drop_entry", d.DropEntry, d.DropEntryOn}, {"drop_packet", d.DropPacket, d.DropRate > 0}, {"secure_tcp", d.SecureTCP, d.SecureOn}} {
			gauge(c.defenseMode, m.mode, m.name)
			gauge(c.defenseOn, b01[m.inEffect], m.name)
		}
		gauge(c.dropRate, d.DropRate)
	}
	for _, i := range snap.Interfaces {
		up := 0.0
		if i.State == "up" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.ifUp, prometheus.GaugeValue, up, i.Name)
		ch <- prometheus.MustNewConstMetric(c.ifChange, prometheus.GaugeValue, float64(i.Since.UnixMilli())/1000, i.Name)
		counter(c.ifLosses, i.Losses, i.Name)
	}
	c.collectWorkers(ch, snap.Workers)
	for _, d := range snap.Daemons {
		names := make([]string, 0, len(d.Stats))
		for name := range d.Stats {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			metric := prometheus.BuildFQName(namespace, "sync", sanitize(name)+"_total")
			desc := prometheus.NewDesc(metric, "The connection sync daemon's "+name+" counter.", []string{"state"}, nil)
			counter(desc, d.Stats[name], d.State)
		}
	}
	if mr := snap.MarkRules; mr != nil {
		refused := 0
		for _, r := range mr.Rules {
			if r.Reason != "" {
				refused++
			}
		}
		ch <- prometheus.MustNewConstMetric(c.markRules, prometheus.GaugeValue, float64(len(mr.Rules)-refused), "used")
		ch <- prometheus.MustNewConstMetric(c.markRules, prometheus.GaugeValue, float64(refused), "refused")
		readErr := 0.0
		if mr.Error != "" {
			readErr = 1
		}
		ch <- prometheus.MustNewConstMetric(c.markReadError, prometheus.GaugeValue, readErr)
	}
	names := make([]string, 0, len(snap.Engine))
	for name := range snap.Engine {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := snap.Engine[name]
		if reason, ok := strings.CutPrefix(name, "drop_"); ok {
			counter(c.drops, v, reason)
			continue
		}
		metric := prometheus.BuildFQName(namespace, "engine", sanitize(name)+"_total")
		d := prometheus.NewDesc(metric, "The data path's "+name+" counter.", nil, nil)
		counter(d, v)
	}
}

// workerDesc describes a per-worker loop counter, ulvs_worker_NAME.
func workerDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "worker", name), help, []string{"worker"}, nil)
}

var (
	workerPackets = workerDesc("packets_total", "Frames the data-path worker received.")
	workerBatches = workerDesc("batches_total", "Receive calls of the worker that returned frames.")
	workerPolls   = workerDesc("polls_total", "Times the worker slept waiting for frames (wake-ups).")
	workerTx      = workerDesc("tx_batches_total", "Transmit batches of the worker.")
	workerCPU     = workerDesc("cpu_seconds_total", "CPU time of the worker's thread.")
	workerDrops   = workerDesc("ring_drops_total", "Frames the kernel dropped because the worker's receive rings were full.")
	workerIdle    = workerDesc("idle_wins_total", "Idle polls of the worker (ulvsd --idle-poll) that found frames before it would have slept.")
)

// collectWorkers sends the data-path workers' loop counters.
func (c *Collector) collectWorkers(ch chan<- prometheus.Metric, ws []ctl.WorkerStatus) {
	for _, w := range ws {
		lv := strconv.Itoa(w.Index)
		ch <- prometheus.MustNewConstMetric(workerPackets, prometheus.CounterValue, float64(w.Packets), lv)
		ch <- prometheus.MustNewConstMetric(workerBatches, prometheus.CounterValue, float64(w.Batches), lv)
		ch <- prometheus.MustNewConstMetric(workerPolls, prometheus.CounterValue, float64(w.Polls), lv)
		ch <- prometheus.MustNewConstMetric(workerTx, prometheus.CounterValue, float64(w.TxCalls), lv)
		ch <- prometheus.MustNewConstMetric(workerCPU, prometheus.CounterValue, float64(w.CPUNanos)/1e9, lv)
		ch <- prometheus.MustNewConstMetric(workerDrops, prometheus.CounterValue, float64(w.RingDrops), lv)
		ch <- prometheus.MustNewConstMetric(workerIdle, prometheus.CounterValue, float64(w.IdleWins), lv)
	}
}

// collectChecks sends the health checks' gauges and counters.
func (c *Collector) collectChecks(ch chan<- prometheus.Metric, vss []healthcheck.VirtualStatus) {
	gauge := func(d *prometheus.Desc, up bool, lv ...string) {
		v := 0.0
		if up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	for _, v := range vss {
		local, port, proto, mark := "", "0", "FWM", ""
		if k := v.Service; k.FwMark != 0 {
			mark = fmt.Sprintf("%08X", k.FwMark)
			local = fwmarkLocal(k.IPv6())
		} else {
			local, port, proto = k.Addr.String(), strconv.Itoa(int(k.Port)), k.Proto.String()
		}
		gauge(c.quorumUp, v.QuorumUp, local, port, proto, mark)
		for _, r := range v.Reals {
			lv := []string{local, port, r.Addr.String(), strconv.Itoa(int(r.Port)), proto, mark}
			gauge(c.serverUp, r.Alive, lv...)
			for i, cs := range r.Checks {
				clv := append(slices.Clone(lv), cs.Kind, strconv.Itoa(i))
				gauge(c.checkUp, cs.Up, clv...)
				ch <- prometheus.MustNewConstMetric(c.checkTransitions, prometheus.CounterValue, float64(cs.Transitions), clv...)
			}
		}
	}
}

// sanitize makes an engine counter name a metric name part.
func sanitize(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Handler returns the /metrics handler for src, with a registry of its
// own holding one Collector.
func Handler(src Source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Serve serves /metrics for src on ln until ctx is done, then shuts the
// server down and returns nil; it returns a serving error otherwise.
func Serve(ctx context.Context, ln net.Listener, src Source, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", Handler(src))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return fmt.Errorf("metrics: %w", err)
}

// fwmarkLocal is the local_address label of a fwmark service: "" for an
// IPv4 one (node_exporter's, from /proc/net/ip_vs, whose FWM line has no
// address), "::" for an IPv6 one (ipvsadm -f N -6, issue #17), so that the
// two services of one mark keep apart series.
func fwmarkLocal(v6 bool) string {
	if v6 {
		return "::"
	}
	return ""
}
