package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/healthcheck"
	"github.com/ulvs/ulvs/vrrp"
	"github.com/ulvs/ulvs/vs"
)

func snapshot() ctl.Snapshot {
	vip := netip.MustParseAddr("10.77.0.100")
	return ctl.Snapshot{
		Services: []ctl.ServiceStatus{
			{
				Service: config.Service{Proto: vs.TCP, Addr: vip, Port: 80, Scheduler: "rr"},
				Stats:   ctl.Stats{Conns: 10, InPkts: 100, OutPkts: 90, InBytes: 5000, OutBytes: 90000},
				Dests: []ctl.DestStatus{
					{Dest: config.Dest{Addr: netip.MustParseAddr("10.77.0.11"), Port: 80, Method: vs.Route, Weight: 1}, ActiveConns: 2, InactConns: 3,
						Stats: ctl.Stats{Conns: 6, InPkts: 60, InBytes: 3000}},
					{Dest: config.Dest{Addr: netip.MustParseAddr("10.77.0.12"), Port: 80, Method: vs.Route, Weight: 3}, InactConns: 121},
				},
			},
			{
				Service: config.Service{Proto: vs.UDP, Addr: vip, Port: 53},
				Stats:   ctl.Stats{Conns: 5, InPkts: 7, OutPkts: 7, InBytes: 700, OutBytes: 1400},
				Dests: []ctl.DestStatus{
					{Dest: config.Dest{Addr: netip.MustParseAddr("10.77.0.11"), Port: 5353, Method: vs.Masq, Weight: 2}, InactConns: 1},
				},
			},
			{
				Service: config.Service{Proto: vs.TCP, FwMark: 21, Persistent: true, Timeout: 300},
				Dests: []ctl.DestStatus{
					{Dest: config.Dest{Addr: netip.MustParseAddr("10.77.0.13"), Method: vs.Route, Weight: 1}, ActiveConns: 1},
				},
			},
		},
		Engine: map[string]uint64{
			"rx_frames": 1000, "rx_bytes": 64000, "tx_frames": 990, "tx_bytes": 63000,
			"drop_malformed": 4, "drop_no_service": 6, "new_conns": 15,
		},
		Interfaces: []ctl.InterfaceStatus{
			{Name: "d-eth0", State: "absent", Since: time.Unix(1796582401, 500e6), Losses: 2},
			{Name: "d-eth1", State: "up", Since: time.Unix(1796582000, 0), Carrier: true},
		},
		Defense: &ctl.DefenseStatus{DropEntry: 2, DropPacket: 1, SecureTCP: 3, DropEntryOn: true, SecureOn: true,
			Conns: 900, Capacity: 1000, Free: 100, AmemThresh: 128},
		Daemons: []ctl.DaemonStatus{
			{State: "master", Interface: "sync0", Stats: map[string]uint64{"sent": 12, "queue_dropped": 1}},
			{State: "backup", Interface: "sync0", Stats: map[string]uint64{"created": 40}},
		},
	}
}

const wantSync = `# HELP ulvs_sync_created_total The connection sync daemon's created counter.
# TYPE ulvs_sync_created_total counter
ulvs_sync_created_total{state="backup"} 40
# HELP ulvs_sync_queue_dropped_total The connection sync daemon's queue_dropped counter.
# TYPE ulvs_sync_queue_dropped_total counter
ulvs_sync_queue_dropped_total{state="master"} 1
# HELP ulvs_sync_sent_total The connection sync daemon's sent counter.
# TYPE ulvs_sync_sent_total counter
ulvs_sync_sent_total{state="master"} 12
`

const wantDefense = `# HELP ulvs_conn_table_slots The connection tables: conns (connections held), capacity (connections they can hold), free (room left, the defences' availmem).
# TYPE ulvs_conn_table_slots gauge
ulvs_conn_table_slots{kind="capacity"} 1000
ulvs_conn_table_slots{kind="conns"} 900
ulvs_conn_table_slots{kind="free"} 100
# HELP ulvs_defense_active 1 while the defence acts: drop_entry runs, drop_packet drops, secure_tcp's state table is in use.
# TYPE ulvs_defense_active gauge
ulvs_defense_active{defense="drop_entry"} 1
ulvs_defense_active{defense="drop_packet"} 0
ulvs_defense_active{defense="secure_tcp"} 1
# HELP ulvs_defense_drop_rate drop_packet drops one new connection in this many (0: none).
# TYPE ulvs_defense_drop_rate gauge
ulvs_defense_drop_rate 0
# HELP ulvs_defense_mode The defence's mode 0..3 (drop_entry, drop_packet, secure_tcp); 1 and 2 move by themselves with the room left.
# TYPE ulvs_defense_mode gauge
ulvs_defense_mode{defense="drop_entry"} 2
ulvs_defense_mode{defense="drop_packet"} 1
ulvs_defense_mode{defense="secure_tcp"} 3
`

const wantInterfaces = `# HELP ulvs_interface_last_change_timestamp_seconds When the interface's state last changed, in seconds since the epoch.
# TYPE ulvs_interface_last_change_timestamp_seconds gauge
ulvs_interface_last_change_timestamp_seconds{interface="d-eth0"} 1.7965824015e+09
ulvs_interface_last_change_timestamp_seconds{interface="d-eth1"} 1.796582e+09
# HELP ulvs_interface_losses_total Times the director stopped forwarding on the interface (deleted, down, socket failure).
# TYPE ulvs_interface_losses_total counter
ulvs_interface_losses_total{interface="d-eth0"} 2
ulvs_interface_losses_total{interface="d-eth1"} 0
# HELP ulvs_interface_up 1 while the director forwards on the interface, 0 while it is absent, down or broken.
# TYPE ulvs_interface_up gauge
ulvs_interface_up{interface="d-eth0"} 0
ulvs_interface_up{interface="d-eth1"} 1
`

const wantIPVS = `# HELP ulvs_ipvs_backend_connections_active The current active connections by local and remote address.
# TYPE ulvs_ipvs_backend_connections_active gauge
ulvs_ipvs_backend_connections_active{local_address="",local_mark="00000015",local_port="0",proto="FWM",remote_address="10.77.0.13",remote_port="0"} 1
ulvs_ipvs_backend_connections_active{local_address="10.77.0.100",local_mark="",local_port="53",proto="UDP",remote_address="10.77.0.11",remote_port="5353"} 0
ulvs_ipvs_backend_connections_active{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.11",remote_port="80"} 2
ulvs_ipvs_backend_connections_active{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.12",remote_port="80"} 0
# HELP ulvs_ipvs_backend_connections_inactive The current inactive connections by local and remote address.
# TYPE ulvs_ipvs_backend_connections_inactive gauge
ulvs_ipvs_backend_connections_inactive{local_address="",local_mark="00000015",local_port="0",proto="FWM",remote_address="10.77.0.13",remote_port="0"} 0
ulvs_ipvs_backend_connections_inactive{local_address="10.77.0.100",local_mark="",local_port="53",proto="UDP",remote_address="10.77.0.11",remote_port="5353"} 1
ulvs_ipvs_backend_connections_inactive{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.11",remote_port="80"} 3
ulvs_ipvs_backend_connections_inactive{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.12",remote_port="80"} 121
# HELP ulvs_ipvs_backend_weight The current backend weight by local and remote address.
# TYPE ulvs_ipvs_backend_weight gauge
ulvs_ipvs_backend_weight{local_address="",local_mark="00000015",local_port="0",proto="FWM",remote_address="10.77.0.13",remote_port="0"} 1
ulvs_ipvs_backend_weight{local_address="10.77.0.100",local_mark="",local_port="53",proto="UDP",remote_address="10.77.0.11",remote_port="5353"} 2
ulvs_ipvs_backend_weight{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.11",remote_port="80"} 1
ulvs_ipvs_backend_weight{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.12",remote_port="80"} 3
# HELP ulvs_ipvs_connections_total The total number of connections made.
# TYPE ulvs_ipvs_connections_total counter
ulvs_ipvs_connections_total 15
# HELP ulvs_ipvs_incoming_bytes_total The total amount of incoming data.
# TYPE ulvs_ipvs_incoming_bytes_total counter
ulvs_ipvs_incoming_bytes_total 5700
# HELP ulvs_ipvs_incoming_packets_total The total number of incoming packets.
# TYPE ulvs_ipvs_incoming_packets_total counter
ulvs_ipvs_incoming_packets_total 107
# HELP ulvs_ipvs_outgoing_bytes_total The total amount of outgoing data.
# TYPE ulvs_ipvs_outgoing_bytes_total counter
ulvs_ipvs_outgoing_bytes_total 91400
# HELP ulvs_ipvs_outgoing_packets_total The total number of outgoing packets.
# TYPE ulvs_ipvs_outgoing_packets_total counter
ulvs_ipvs_outgoing_packets_total 97
`

const wantPer = `# HELP ulvs_ipvs_backend_incoming_bytes_total The total amount of incoming data, by local and remote address.
# TYPE ulvs_ipvs_backend_incoming_bytes_total counter
ulvs_ipvs_backend_incoming_bytes_total{local_address="",local_mark="00000015",local_port="0",proto="FWM",remote_address="10.77.0.13",remote_port="0"} 0
ulvs_ipvs_backend_incoming_bytes_total{local_address="10.77.0.100",local_mark="",local_port="53",proto="UDP",remote_address="10.77.0.11",remote_port="5353"} 0
ulvs_ipvs_backend_incoming_bytes_total{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.11",remote_port="80"} 3000
ulvs_ipvs_backend_incoming_bytes_total{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.12",remote_port="80"} 0
# HELP ulvs_ipvs_service_connections_total The total number of connections made, by virtual service.
# TYPE ulvs_ipvs_service_connections_total counter
ulvs_ipvs_service_connections_total{local_address="",local_mark="00000015",local_port="0",proto="FWM"} 0
ulvs_ipvs_service_connections_total{local_address="10.77.0.100",local_mark="",local_port="53",proto="UDP"} 5
ulvs_ipvs_service_connections_total{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP"} 10
`

const wantEngine = `# HELP ulvs_engine_drops_total Frames the data path dropped, by reason.
# TYPE ulvs_engine_drops_total counter
ulvs_engine_drops_total{reason="malformed"} 4
ulvs_engine_drops_total{reason="no_service"} 6
# HELP ulvs_engine_rx_bytes_total The data path's rx_bytes counter.
# TYPE ulvs_engine_rx_bytes_total counter
ulvs_engine_rx_bytes_total 64000
# HELP ulvs_engine_rx_frames_total The data path's rx_frames counter.
# TYPE ulvs_engine_rx_frames_total counter
ulvs_engine_rx_frames_total 1000
# HELP ulvs_engine_tx_frames_total The data path's tx_frames counter.
# TYPE ulvs_engine_tx_frames_total counter
ulvs_engine_tx_frames_total 990
`

func TestCollector(t *testing.T) {
	c := NewCollector(func() (ctl.Snapshot, error) { return snapshot(), nil })
	names := []string{
		"ulvs_ipvs_connections_total", "ulvs_ipvs_incoming_packets_total", "ulvs_ipvs_outgoing_packets_total",
		"ulvs_ipvs_incoming_bytes_total", "ulvs_ipvs_outgoing_bytes_total",
		"ulvs_ipvs_backend_connections_active", "ulvs_ipvs_backend_connections_inactive", "ulvs_ipvs_backend_weight",
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(wantIPVS), names...); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(wantEngine),
		"ulvs_engine_drops_total", "ulvs_engine_rx_bytes_total", "ulvs_engine_rx_frames_total", "ulvs_engine_tx_frames_total"); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(wantInterfaces),
		"ulvs_interface_up", "ulvs_interface_last_change_timestamp_seconds", "ulvs_interface_losses_total"); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(wantDefense),
		"ulvs_conn_table_slots", "ulvs_defense_active", "ulvs_defense_drop_rate", "ulvs_defense_mode"); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(wantSync),
		"ulvs_sync_created_total", "ulvs_sync_queue_dropped_total", "ulvs_sync_sent_total"); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(wantPer),
		"ulvs_ipvs_service_connections_total", "ulvs_ipvs_backend_incoming_bytes_total"); err != nil {
		t.Error(err)
	}
	// IPVS: 5 totals + 3 gauges x 4 backends + 5 counters x 3 services
	// + 5 counters x 4 backends; engine: 7 counters; 3 per interface;
	// 3 sync counters; 3 table gauges, 3+3 defence gauges and a rate.
	if n, want := testutil.CollectAndCount(c), 5+12+15+20+7+6+3+10; n != want {
		t.Errorf("CollectAndCount = %d, want %d", n, want)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestCollectorEmptyAndError(t *testing.T) {
	c := NewCollector(func() (ctl.Snapshot, error) { return ctl.Snapshot{}, nil })
	if n := testutil.CollectAndCount(c, "ulvs_ipvs_connections_total"); n != 1 {
		t.Errorf("empty snapshot: %d connections_total series, want 1", n)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(func() (ctl.Snapshot, error) { return ctl.Snapshot{}, errors.New("daemon gone") }))
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "daemon gone") {
		t.Errorf("Gather with a failing source: %v, want the error", err)
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler(func() (ctl.Snapshot, error) { return snapshot(), nil }))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`ulvs_ipvs_backend_connections_inactive{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.12",remote_port="80"} 121`,
		"ulvs_ipvs_connections_total 15",
		`ulvs_engine_drops_total{reason="malformed"} 4`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	// Two handlers, two registries: no global registration conflicts.
	_ = Handler(func() (ctl.Snapshot, error) { return snapshot(), nil })
}

func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, func() (ctl.Snapshot, error) { return snapshot(), nil }, nil) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "ulvs_ipvs_outgoing_bytes_total 91400") {
		t.Errorf("served metrics:\n%s", body)
	}
	if resp, err := http.Get("http://" + ln.Addr().String() + "/other"); err == nil {
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("/other: %s, want 404", resp.Status)
		}
		resp.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}

func TestCollectorChecks(t *testing.T) {
	snap := ctl.Snapshot{Checks: []healthcheck.VirtualStatus{{
		Service:  config.ServiceKey{Proto: vs.TCP, Addr: netip.MustParseAddr("10.77.0.100"), Port: 80},
		QuorumUp: true,
		Reals: []healthcheck.RealStatus{
			{Addr: netip.MustParseAddr("10.77.0.11"), Port: 80, Alive: true, Weight: 1,
				Checks: []healthcheck.CheckStatus{{Kind: "TCP_CHECK", Up: true}}},
			{Addr: netip.MustParseAddr("10.77.0.12"), Port: 80, Weight: 1,
				Checks: []healthcheck.CheckStatus{{Kind: "HTTP_GET", Transitions: 3}}},
		},
	}}}
	c := NewCollector(func() (ctl.Snapshot, error) { return snap, nil })
	want := `# HELP ulvs_check_quorum_up 1 while the virtual service has its quorum of alive weight.
# TYPE ulvs_check_quorum_up gauge
ulvs_check_quorum_up{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP"} 1
# HELP ulvs_check_server_up 1 while every health checker of the real server says it is up.
# TYPE ulvs_check_server_up gauge
ulvs_check_server_up{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.11",remote_port="80"} 1
ulvs_check_server_up{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.12",remote_port="80"} 0
# HELP ulvs_check_transitions_total Up/down transitions of the health checker.
# TYPE ulvs_check_transitions_total counter
ulvs_check_transitions_total{check="HTTP_GET",index="0",local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.12",remote_port="80"} 3
ulvs_check_transitions_total{check="TCP_CHECK",index="0",local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.11",remote_port="80"} 0
# HELP ulvs_check_up 1 while the health checker says the real server is up.
# TYPE ulvs_check_up gauge
ulvs_check_up{check="HTTP_GET",index="0",local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.12",remote_port="80"} 0
ulvs_check_up{check="TCP_CHECK",index="0",local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.11",remote_port="80"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"ulvs_check_quorum_up", "ulvs_check_server_up", "ulvs_check_transitions_total", "ulvs_check_up"); err != nil {
		t.Error(err)
	}
}

func TestCollectorVRRP(t *testing.T) {
	snap := ctl.Snapshot{HA: []vrrp.Status{{Name: "VI_1", Interface: "eth0", VRID: 51, State: vrrp.StateMaster,
		EffectivePriority: 100, Counters: vrrp.Counters{BecameMaster: 2, AdvertsReceived: 7}}}}
	c := NewCollector(func() (ctl.Snapshot, error) { return snap, nil })
	want := `# HELP ulvs_vrrp_became_master_total Times the VRRP instance became master.
# TYPE ulvs_vrrp_became_master_total counter
ulvs_vrrp_became_master_total{instance="VI_1",interface="eth0",vrid="51"} 2
# HELP ulvs_vrrp_master 1 while the VRRP instance is master on this director.
# TYPE ulvs_vrrp_master gauge
ulvs_vrrp_master{instance="VI_1",interface="eth0",vrid="51"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ulvs_vrrp_became_master_total", "ulvs_vrrp_master"); err != nil {
		t.Error(err)
	}
}

func TestCollectorMarks(t *testing.T) {
	snap := ctl.Snapshot{}
	c := NewCollector(func() (ctl.Snapshot, error) { return snap, nil })
	if n := testutil.CollectAndCount(c, "ulvs_marks_rules", "ulvs_marks_read_error"); n != 0 {
		t.Errorf("marks not read: %d series, want none", n)
	}
	snap.MarkRules = &ctl.MarkRulesStatus{Error: "nft: not found", Rules: []ctl.MarkRuleStatus{
		{Chain: "ip mangle PREROUTING", Text: "-A PREROUTING -d 10.77.0.100/32 -p tcp -m tcp --dport 21 -j MARK --set-xmark 0x15/0xffffffff", Mark: 21},
		{Chain: "ip mangle PREROUTING", Text: "-A PREROUTING -i eth0 -j MARK --set-xmark 0x16/0xffffffff", Reason: "option -i"},
		{Chain: "ip mangle PREROUTING", Text: "-A PREROUTING -s 10.0.0.0/8 -j MARK --set-xmark 0x17/0xffffffff", Reason: "source match"},
	}}
	const want = `
# HELP ulvs_marks_read_error 1 while the iptables/nft rules cannot be read (the marks read before stay in force).
# TYPE ulvs_marks_read_error gauge
ulvs_marks_read_error 1
# HELP ulvs_marks_rules The iptables/nft prerouting MARK rules read, by state: used (compiled into the mark classifier) or refused (ulvs cannot express them; see ulvs marks).
# TYPE ulvs_marks_rules gauge
ulvs_marks_rules{state="refused"} 2
ulvs_marks_rules{state="used"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ulvs_marks_rules", "ulvs_marks_read_error"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestCollectorFwMark6: the IPv4 and the IPv6 fwmark service of one mark
// (the kernel keys them by family and mark) keep apart series: the IPv6
// one's local_address is "::".
func TestCollectorFwMark6(t *testing.T) {
	snap := snapshot()
	snap.Services = append(snap.Services, ctl.ServiceStatus{
		Service: config.Service{Proto: vs.TCP, FwMark: 21, Addr: config.FwMark6Addr},
		Stats:   ctl.Stats{Conns: 4},
		Dests: []ctl.DestStatus{
			{Dest: config.Dest{Addr: netip.MustParseAddr("2001:db8::13"), Method: vs.Route, Weight: 1}},
		},
	})
	c := NewCollector(func() (ctl.Snapshot, error) { return snap, nil })
	want := `# HELP ulvs_ipvs_service_connections_total The total number of connections made, by virtual service.
# TYPE ulvs_ipvs_service_connections_total counter
ulvs_ipvs_service_connections_total{local_address="",local_mark="00000015",local_port="0",proto="FWM"} 0
ulvs_ipvs_service_connections_total{local_address="10.77.0.100",local_mark="",local_port="53",proto="UDP"} 5
ulvs_ipvs_service_connections_total{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP"} 10
ulvs_ipvs_service_connections_total{local_address="::",local_mark="00000015",local_port="0",proto="FWM"} 4
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ulvs_ipvs_service_connections_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
