package lab

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParsePASV(t *testing.T) {
	for _, c := range []struct {
		name, msg string
		want      string // "" means an error
	}{
		{"vsftpd", "Entering Passive Mode (10,77,0,100,39,16).", "10.77.0.100:10000"},
		{"no parens", "Entering Passive Mode 192,0,2,1,78,32", "192.0.2.1:20000"},
		{"zero port", "=127,0,0,1,0,0", "127.0.0.1:0"},
		{"number before", "Entering 2 Passive Mode (1,2,3,4,5,6)", "1.2.3.4:1286"},
		{"max", "(255,255,255,255,255,255)", "255.255.255.255:65535"},
		{"five numbers", "Entering Passive Mode (10,77,0,100,39)", ""},
		{"too big", "Entering Passive Mode (10,77,0,256,39,16)", ""},
		{"four digits", "(1000,77,0,1,39,16)", ""},
		{"empty field", "(10,,0,1,39,16)", ""},
		{"empty", "", ""},
		{"epsv", "Entering Extended Passive Mode (|||10000|)", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePASV(c.msg)
			if c.want == "" {
				if err == nil {
					t.Errorf("ParsePASV(%q) = %v, want an error", c.msg, got)
				}
				return
			}
			if err != nil || got.String() != c.want {
				t.Errorf("ParsePASV(%q) = %v, %v; want %s", c.msg, got, err, c.want)
			}
		})
	}
}

func FuzzParsePASV(f *testing.F) {
	for _, s := range []string{"Entering Passive Mode (10,77,0,100,39,16).", "(1,2,3", "1,2,3,4,5,6,7", ","} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := ParsePASV(s)
		if err != nil {
			return
		}
		// The numbers it found are in s, comma-separated, perhaps with
		// leading zeros.
		a := ap.Addr().As4()
		var re strings.Builder
		for i, n := range []int{int(a[0]), int(a[1]), int(a[2]), int(a[3]), int(ap.Port() >> 8), int(ap.Port() & 255)} {
			if i > 0 {
				re.WriteString(",")
			}
			fmt.Fprintf(&re, "0*%d", n)
		}
		if !regexp.MustCompile(re.String()).MatchString(s) {
			t.Errorf("ParsePASV(%q) = %v: %s not in the input", s, ap, re.String())
		}
	})
}

// fakeFTP is a one-session FTP server on loopback whose replies a test
// scripts: reply maps a command verb to its reply line(s); "PASV" is
// answered with the data listener's address unless the script says
// otherwise, and RETR sends data on the data connection.
type fakeFTP struct {
	ln, data net.Listener
	reply    map[string]string
	content  []byte
	stall    bool // never send the greeting
	done     chan struct{}
}

func startFakeFTP(t *testing.T, reply map[string]string, content []byte, stall bool) *fakeFTP {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	data, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeFTP{ln: ln, data: data, reply: reply, content: content, stall: stall, done: make(chan struct{})}
	t.Cleanup(func() {
		ln.Close()
		data.Close()
		<-f.done
	})
	go f.serve()
	return f
}

func (f *fakeFTP) addr() netip.AddrPort { return netip.MustParseAddrPort(f.ln.Addr().String()) }

func (f *fakeFTP) serve() {
	defer close(f.done)
	c, err := f.ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	if f.stall {
		c.Read(make([]byte, 1)) // until the client goes
		return
	}
	// A multi-line greeting, as RFC 959 section 4.2 allows.
	fmt.Fprintf(c, "220-fake FTP\r\n220-second line\r\n220 fake ready\r\n")
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.Fields(line)[0]
		if rep, ok := f.reply[verb]; ok {
			fmt.Fprintf(c, "%s\r\n", rep)
			continue
		}
		switch verb {
		case "USER":
			fmt.Fprintf(c, "331 Please specify the password.\r\n")
		case "PASS":
			fmt.Fprintf(c, "230 Login successful.\r\n")
		case "TYPE":
			fmt.Fprintf(c, "200 Switching to Binary mode.\r\n")
		case "PASV":
			ap := netip.MustParseAddrPort(f.data.Addr().String())
			a := ap.Addr().As4()
			fmt.Fprintf(c, "227 Entering Passive Mode (%d,%d,%d,%d,%d,%d).\r\n",
				a[0], a[1], a[2], a[3], ap.Port()>>8, ap.Port()&255)
		case "RETR":
			d, err := f.data.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "150 Opening BINARY mode data connection.\r\n")
			d.Write(f.content)
			d.Close()
			fmt.Fprintf(c, "226-Transfer\r\n226 complete.\r\n")
		case "QUIT":
			fmt.Fprintf(c, "221 Goodbye.\r\n")
			return
		default:
			fmt.Fprintf(c, "500 Unknown command.\r\n")
		}
	}
}

func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func TestFTPRetrieveFake(t *testing.T) {
	content := []byte("some bytes\r\nand a line\n")
	for _, c := range []struct {
		name    string
		reply   map[string]string
		wantErr string // "" means success
	}{
		{name: "ok"},
		{name: "login without password", reply: map[string]string{"USER": "230 Login successful."}},
		{name: "user refused", reply: map[string]string{"USER": "530 This FTP server is anonymous only."}, wantErr: "USER anonymous: 530"},
		{name: "pass refused", reply: map[string]string{"PASS": "530 Login incorrect."}, wantErr: "PASS: 530"},
		{name: "type refused", reply: map[string]string{"TYPE": "504 No."}, wantErr: "TYPE I: 504"},
		{name: "pasv refused", reply: map[string]string{"PASV": "550 Permission denied."}, wantErr: "PASV: 550"},
		{name: "pasv garbled", reply: map[string]string{"PASV": "227 Entering Passive Mode (1,2,3)."}, wantErr: "no h1,h2,h3,h4,p1,p2"},
		{name: "no such file", reply: map[string]string{"RETR": "550 Failed to open file."}, wantErr: "RETR /data.bin: 550"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := startFakeFTP(t, c.reply, content, false)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			tr, err := FTPRetrieve(ctx, dialLoopback, srv.addr(), "/data.bin")
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(tr.Data) != string(content) {
				t.Errorf("data: got %q, want %q", tr.Data, content)
			}
			if tr.Greeting != "fake FTP\nsecond line\nfake ready" {
				t.Errorf("greeting: got %q", tr.Greeting)
			}
			if want := srv.data.Addr().String(); tr.Passive.String() != want {
				t.Errorf("passive: got %v, want %s", tr.Passive, want)
			}
		})
	}
}

func TestFTPRetrieveBadPath(t *testing.T) {
	for _, p := range []string{"", "a\r\nDELE b", "x\n"} {
		if _, err := FTPRetrieve(context.Background(), dialLoopback, netip.MustParseAddrPort("127.0.0.1:21"), p); err == nil {
			t.Errorf("path %q: got nil error", p)
		}
	}
}

func TestFTPRetrieveContext(t *testing.T) {
	srv := startFakeFTP(t, nil, nil, true)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := FTPRetrieve(ctx, dialLoopback, srv.addr(), "/x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled server: got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stalled server: returned after %v", d)
	}
}

func TestVsftpdConfig(t *testing.T) {
	conf := vsftpdConfig("rs2", "/r", "/e", "/l", netip.Addr{})
	for _, want := range []string{"listen=YES\n", "background=NO\n", "anon_root=/r\n",
		"secure_chroot_dir=/e\n", "vsftpd_log_file=/l\n", "pasv_min_port=10000\n",
		"pasv_max_port=20000\n", "local_enable=NO\n", "write_enable=NO\n", "ftpd_banner=ulvs lab rs2\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	// The 227 reply must carry the control connection's local address.
	if strings.Contains(conf, "pasv_address") {
		t.Errorf("config sets pasv_address:\n%s", conf)
	}
	// Over IPv6: VIP6 alone.
	conf = vsftpdConfig("rs1", "/r", "/e", "/l", netip.MustParseAddr("2001:db8:77::100"))
	for _, want := range []string{"listen=NO\n", "listen_ipv6=YES\n", "listen_address6=2001:db8:77::100\n", "listen_port=21\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("IPv6 config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "listen_address=") {
		t.Errorf("IPv6 config sets an IPv4 listen_address:\n%s", conf)
	}
}

func TestParseEPSV(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want uint16 // 0: an error
	}{
		{"Entering Extended Passive Mode (|||10000|)", 10000},
		{"Entering Extended Passive Mode (!!!65535!)", 65535},
		{"(|||1|)", 1},
		{"(|||0|)", 0},
		{"(|||65536|)", 0},
		{"(||10000|)", 0},
		{"(|!|10000|)", 0},
		{"(|||10000!)", 0},
		{"(|||10000|", 0},
		{"(|||10000)", 0},
		{"(||||)", 0},
		{"( )", 0},
		{"Entering Passive Mode (10,77,0,100,39,16).", 0},
		{"", 0},
	} {
		got, err := ParseEPSV(c.msg)
		if (err == nil) != (c.want != 0) || got != c.want {
			t.Errorf("ParseEPSV(%q) = %d, %v; want %d", c.msg, got, err, c.want)
		}
	}
}

// FuzzParseEPSV: any text; a port it finds is in the input between three
// delimiters and a fourth with ")".
func FuzzParseEPSV(f *testing.F) {
	for _, s := range []string{"Entering Extended Passive Mode (|||10000|)", "(|||", "(!!!1!)", "("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		port, err := ParseEPSV(s)
		if err != nil {
			return
		}
		i := strings.IndexByte(s, '(')
		d := s[i+1]
		if port == 0 || !regexp.MustCompile(regexp.QuoteMeta("("+strings.Repeat(string(d), 3))+"0*"+fmt.Sprint(port)+regexp.QuoteMeta(string(d)+")")).MatchString(s) {
			t.Errorf("ParseEPSV(%q) = %d: not (ddd%dd) in the input", s, port, port)
		}
	})
}

// skipNoFTP skips FTP integration tests where skipUnprivileged does, and
// without vsftpd.
func skipNoFTP(t *testing.T) {
	t.Helper()
	skipUnprivileged(t)
	if _, err := vsftpdPath(); err != nil {
		t.Skip("integration test: needs vsftpd (scripts/setup-host.sh)")
	}
}

// startFTP starts the lab's FTP servers and stops them with the test,
// before the Down that upLab registered.
func startFTP(t *testing.T, l *Lab, ctx context.Context) {
	t.Helper()
	if err := l.StartFTP(ctx); err != nil {
		if errors.Is(err, ErrNotSupported) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.StopFTP(); err != nil {
			t.Errorf("StopFTP: %v", err)
		}
	})
}

// nsPids returns the PIDs of the processes in namespace n.
func nsPids(t *testing.T, n NS) []string {
	t.Helper()
	out, err := runCmd(context.Background(), "ip", "netns", "pids", n.Name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))
}

func TestIntegrationFTPDirect(t *testing.T) {
	skipNoFTP(t)
	l := upLab(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	startFTP(t, l, ctx)
	if err := l.StartFTP(ctx); err == nil {
		t.Error("second StartFTP: got nil error, want one")
	}
	procs := l.FTPProcesses()
	if len(procs) != len(l.RS) {
		t.Fatalf("FTPProcesses: got %d, want %d", len(procs), len(l.RS))
	}
	for i, p := range procs {
		if !p.Running() || p.Node != fmt.Sprintf("rs%d", i+1) {
			t.Errorf("process %+v: want rs%d running", p, i+1)
		}
		// The session of StartFTP's readiness probe may still be ending.
		got := nsPids(t, l.RS[i])
		for deadline := time.Now().Add(5 * time.Second); len(got) > 1 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			got = nsPids(t, l.RS[i])
		}
		if len(got) != 1 || got[0] != fmt.Sprint(p.PID) {
			t.Errorf("processes in %s: got %v, want only vsftpd %d", l.RS[i], got, p.PID)
		}
	}
	// Nothing listens on port 21 outside the lab.
	if c, err := net.DialTimeout("tcp4", "127.0.0.1:21", time.Second); err == nil {
		c.Close()
		t.Error("port 21 accepts in the root namespace")
	}

	wantSum := DataSHA256(FTPDataSize)
	for i, rip := range l.RIPs {
		node := fmt.Sprintf("rs%d", i+1)
		ports := map[uint16]bool{}
		for range 3 {
			tr, err := l.FTPRetrieve(ctx, rip, "whoami.txt")
			if err != nil {
				t.Fatalf("%s: %v", node, err)
			}
			if string(tr.Data) != node+"\n" {
				t.Errorf("%s whoami.txt: got %q, want %q", node, tr.Data, node+"\n")
			}
			if tr.Greeting != "ulvs lab "+node {
				t.Errorf("%s greeting: got %q", node, tr.Greeting)
			}
			// Direct, the control connection's local address is the RIP.
			if tr.Passive.Addr() != rip || tr.Passive.Port() < FTPPassiveMin || tr.Passive.Port() > FTPPassiveMax {
				t.Errorf("%s PASV: got %v, want %s:%d..%d", node, tr.Passive, rip, FTPPassiveMin, FTPPassiveMax)
			}
			ports[tr.Passive.Port()] = true

			data, err := l.FTPGet(ctx, rip, "/data.bin")
			if err != nil {
				t.Fatalf("%s: %v", node, err)
			}
			sum := sha256.Sum256(data)
			if len(data) != FTPDataSize || hex.EncodeToString(sum[:]) != wantSum {
				t.Errorf("%s data.bin: %d bytes, sha256 %x; want %d bytes, %s", node, len(data), sum, FTPDataSize, wantSum)
			}
		}
		// vsftpd picks each passive port at random from 10001 ports.
		if len(ports) < 2 {
			t.Errorf("%s: three PASV replies all gave port %v", node, ports)
		}
	}
	if _, err := l.FTPGet(ctx, l.RIPs[0], "no-such-file"); err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("missing file: got %v, want a 550 error", err)
	}

	// curl cross-checks the Go client, in EPSV (its default) and PASV.
	if _, err := exec.LookPath("curl"); err == nil {
		out := filepath.Join(t.TempDir(), "data.bin")
		for _, mode := range [][]string{{"--ftp-pasv"}, {"--ftp-pasv", "--disable-epsv"}} {
			got, err := l.Client.Run(ctx, "curl", append(mode, "-sS", "ftp://"+l.RIPs[1].String()+"/whoami.txt")...)
			if err != nil || string(got) != "rs2\n" {
				t.Errorf("curl %v whoami.txt: got %q, %v; want rs2", mode, got, err)
			}
			if _, err := l.Client.Run(ctx, "curl", append(mode, "-sS", "-o", out, "ftp://"+l.RIPs[0].String()+"/data.bin")...); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != wantSum {
				t.Errorf("curl %v data.bin: sha256 %x, want %s", mode, sum, wantSum)
			}
		}
	} else {
		t.Log("no curl: cross-check skipped")
	}

	// StopFTP ends every vsftpd (sessions too) and removes the files.
	if err := l.StopFTP(); err != nil {
		t.Fatal(err)
	}
	for i, p := range procs {
		if p.Running() {
			t.Errorf("vsftpd of %s (pid %d) still runs", p.Node, p.PID)
		}
		if got := nsPids(t, l.RS[i]); len(got) != 0 {
			t.Errorf("processes left in %s: %v", l.RS[i], got)
		}
		if _, err := os.Stat(filepath.Dir(p.Log)); !os.IsNotExist(err) {
			t.Errorf("%s: directory %s: got %v, want it removed", p.Node, filepath.Dir(p.Log), err)
		}
	}
	if got := l.FTPProcesses(); got != nil {
		t.Errorf("FTPProcesses after StopFTP: %v", got)
	}
	if err := l.StopFTP(); err != nil {
		t.Errorf("second StopFTP: %v", err)
	}
}

func TestIntegrationFTPContext(t *testing.T) {
	skipNoFTP(t)
	l := upLab(t, Config{RealServers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startFTP(t, l, ctx)
	procs := l.FTPProcesses()
	if len(procs) != 1 {
		t.Fatalf("FTPProcesses: got %v, want one", procs)
	}
	// A session open while the servers stop goes with them.
	c, err := l.Client.DialContext(context.Background(), "tcp4", netip.AddrPortFrom(l.RIPs[0], FTPPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "220 ") {
		t.Fatalf("greeting: got %q, %v", line, err)
	}

	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for l.FTPProcesses() != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if l.FTPProcesses() != nil {
		t.Fatal("FTP servers still registered 10s after their context ended")
	}
	if procs[0].Running() {
		t.Errorf("vsftpd (pid %d) still runs after its context ended", procs[0].PID)
	}
	if got := nsPids(t, l.RS[0]); len(got) != 0 {
		t.Errorf("processes left in %s: %v", l.RS[0], got)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("control connection still open after the servers stopped")
	}

	// Stopped servers can be started again.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	startFTP(t, l, ctx2)
	if got, err := l.FTPGet(ctx2, l.RIPs[0], "whoami.txt"); err != nil || string(got) != "rs1\n" {
		t.Errorf("after restart: got %q, %v; want rs1", got, err)
	}
}

// TestIntegrationFTPDRByHand plays the DR director with a static neighbour
// entry, as TestIntegrationDRByHand does: the client's frames for the VIP
// go straight to rs2's MAC. vsftpd then answers PASV with the VIP (the
// control connection's local address), and the data connection to the VIP
// reaches the same real server.
func TestIntegrationFTPDRByHand(t *testing.T) {
	skipNoFTP(t)
	l := upLab(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	startFTP(t, l, ctx)
	var mac string
	if err := l.RS[1].Do(func() error {
		ifi, err := net.InterfaceByName("r2-eth0")
		if err == nil {
			mac = ifi.HardwareAddr.String()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Client.Run(ctx, "ip", "neigh", "replace", l.VIP.String(), "lladdr", mac, "dev", "c-eth0", "nud", "permanent"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		tr, err := l.FTPRetrieve(ctx, l.VIP, "whoami.txt")
		if err != nil {
			t.Fatal(err)
		}
		if string(tr.Data) != "rs2\n" || tr.Greeting != "ulvs lab rs2" {
			t.Errorf("through the VIP: got %q from %q, want rs2", tr.Data, tr.Greeting)
		}
		if tr.Passive.Addr() != l.VIP {
			t.Errorf("PASV through the VIP: got %v, want the VIP %s", tr.Passive, l.VIP)
		}
	}
	data, err := l.FTPGet(ctx, l.VIP, "data.bin")
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != DataSHA256(FTPDataSize) {
		t.Errorf("data.bin through the VIP: %d bytes, sha256 %x", len(data), sum)
	}
}

// TestIntegrationFTPStartFails starts FTP servers for a lab that was never
// built: `ip netns exec` fails, StartFTP reports it with the log, and
// leaves no process and no directory behind.
func TestIntegrationFTPStartFails(t *testing.T) {
	skipNoFTP(t)
	l, err := New(UniquePrefix(), 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = l.StartFTP(ctx)
	if err == nil {
		l.StopFTP()
		t.Fatal("StartFTP without namespaces: got nil error")
	}
	if !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), l.RS[0].Name) {
		t.Errorf("StartFTP error lacks the exit and ip's complaint: %v", err)
	}
	if got := l.FTPProcesses(); got != nil {
		t.Errorf("FTPProcesses after a failed start: %v", got)
	}
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), "ulvs-ftp-"+l.Prefix+"-*"))
	if len(left) != 0 {
		t.Errorf("directories left behind: %v", left)
	}
}

// Down stops the FTP servers too: a running vsftpd would keep a deleted
// namespace alive.
func TestIntegrationFTPStoppedByDown(t *testing.T) {
	skipNoFTP(t)
	l, err := Up(context.Background(), Config{RealServers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StartFTP(context.Background()); err != nil {
		l.Down()
		t.Fatal(err)
	}
	procs := l.FTPProcesses()
	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.Running() {
			t.Errorf("vsftpd %d still runs after Down", p.PID)
		}
	}
}
