package director_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// TestIntegrationIPv6FwMarkIptables mirrors TestIntegrationFTPIptablesMarks
// over IPv6 (issue #17): two ports of VIP6, 80 and 8080, grouped by an
// ip6tables mangle MARK rule into mark 5, an IPv6 fwmark service
// (ulvsadm -A -f 5 -6 -p 300 -M 64) over both real servers in DR, and an
// IPv4 service of the same mark 5 (the kernel keys fwmark services by
// family and mark) over rs1 alone, marked by an iptables rule. A client's
// requests to both ports reach one real server through one template,
// and so do a second address of the client's /64; IPv4 packets of mark 5
// reach the IPv4 service only.
func TestIntegrationIPv6FwMarkIptables(t *testing.T) {
	skipUnprivileged(t)
	needBins(t, "ip6tables", "iptables", "nft")
	e := newEnvLab(t, lab.Config{RealServers: 2, IPv6: true}, func(*lab.Lab) string { return "[director]\ninterfaces = [\"d-eth0\"]\n" })
	ctx := context.Background()
	// Port 8080 on each real server, over IPv6, answering its name as the
	// lab's port-80 server does.
	for i, rs := range e.lab.RS {
		ln, err := rs.Listen("tcp6", "[::]:8080")
		if err != nil {
			t.Fatalf("listen on %s: %v", rs.Name, err)
		}
		name := fmt.Sprintf("rs%d", i+1)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, name) })}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	vip6, vip := e.lab.VIP6.String(), e.lab.VIP.String()

	e.mustAdm("-A", "-f", "5", "-6", "-s", "rr", "-p", "300", "-M", "64")
	for _, r := range e.lab.RIPs6 {
		e.mustAdm("-a", "-f", "5", "-6", "-r", "["+r.String()+"]:0", "-g")
	}
	e.mustAdm("-A", "-f", "5", "-s", "rr")
	e.mustAdm("-a", "-f", "5", "-r", e.lab.RIPs[0].String()+":0", "-g")
	e.waitLog("fwmark service with no mark rule", "fwmark=5", "family=ipv6")

	for _, line := range []string{
		"ip6tables -t mangle -A PREROUTING -p tcp -d " + vip6 + " -m multiport --dports 80,8080 -j MARK --set-mark 5",
		"ip6tables -t mangle -A PREROUTING -i d-eth0 -p tcp -d " + vip6 + " --dport 81 -j MARK --set-mark 6",
		"iptables -t mangle -A PREROUTING -p tcp -d " + vip + " --dport 80 -j MARK --set-mark 5",
	} {
		f := strings.Fields(line)
		if out, err := e.lab.Director.Run(ctx, f[0], f[1:]...); err != nil {
			t.Fatalf("%s: %v %s", line, err, out)
		}
	}
	e.waitLog("iptables/nft marks applied", "rules_used=2", "rules_refused=1", "marks=5")
	e.waitLog("REFUSED", "--dport 81", "option -i")

	out, err := e.lab.Director.Run(ctx, binDir+"/ulvs", "marks")
	if err != nil {
		t.Fatalf("ulvs marks: %v %s", err, out)
	}
	for _, want := range []string{"used     ip6 mangle PREROUTING: -A PREROUTING -d " + vip6 + "/128 -p tcp -m multiport --dports 80,8080",
		"REFUSED  ip6 mangle PREROUTING: -A PREROUTING -d " + vip6 + "/128 -i d-eth0"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ulvs marks lacks %q:\n%s", want, out)
		}
	}

	get := func(c *http.Client, url string) (string, error) {
		resp, err := c.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b)), err
	}
	// The real servers' MACs are resolved by neighbour discovery first.
	clientA := e.client()
	var first string
	deadline := time.Now().Add(20 * time.Second)
	for first == "" {
		if first, err = get(clientA, "http://["+vip6+"]:80/"); err != nil && time.Now().After(deadline) {
			t.Fatalf("VIP6 never answered on the marked port 80: %v\nulvsd log:\n%s", err, e.logText())
		}
		if first == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	clientB := netip.MustParseAddr("2001:db8:77::20") // the client's /64
	if out, err := e.lab.Client.Run(ctx, "ip", "-6", "addr", "add", clientB.String()+"/64", "dev", "c-eth0", "nodad"); err != nil {
		t.Fatalf("add a second client address: %v %s", err, out)
	}
	b := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialFrom(e.lab.Client, clientB), DisableKeepAlives: true}}
	for i := range 10 {
		for _, c := range []struct {
			name   string
			client *http.Client
		}{{"client", clientA}, {"second address of its /64", b}} {
			for _, port := range []string{"80", "8080"} {
				got, err := get(c.client, "http://["+vip6+"]:"+port+"/")
				if err != nil || got != first {
					t.Fatalf("round %d, %s, port %s: %q, %v; the mark's template wants %s\nulvsd log:\n%s", i, c.name, port, got, err, first, e.logText())
				}
			}
		}
	}

	// IPv4 packets of mark 5 reach the IPv4 service (rs1 alone); IPv4
	// port 8080 is in no IPv4 rule.
	for range 4 {
		if got, err := get(clientA, "http://"+vip+":80/"); err != nil || got != "rs1" {
			t.Errorf("IPv4 request to the mark: %q, %v; want rs1, the IPv4 service's only real server", got, err)
		}
	}
	short := e.client()
	short.Timeout = 2 * time.Second
	if got, err := get(short, "http://"+vip+":8080/"); err == nil {
		t.Errorf("IPv4 port 8080, marked for IPv6 only, answered %q", got)
	}
	// Port 81 is marked only by the refused rule: no service.
	if got, err := get(short, "http://["+vip6+"]:81/"); err == nil {
		t.Errorf("IPv6 port 81 (refused rule) answered %q", got)
	}

	list := e.mustAdm("-L", "-n")
	for _, want := range []string{"FWM  5 rr\n", "FWM  5 IPv6 rr persistent 300 mask 64\n"} {
		if !strings.Contains(list, want) {
			t.Errorf("-L -n lacks %q:\n%s", want, list)
		}
	}
	conns := e.mustAdm("-L", "-n", "-c")
	if !strings.Contains(conns, "[2001:db8:77::]:0") || !strings.Contains(conns, "[0:5::]:0") {
		t.Errorf("-L -n -c has no IPv6 mark template <IP, client/64, mark 5>:\n%s", conns)
	}
	t.Logf("ulvsadm -L -n:\n%s", list)
}

// TestIntegrationIPv6FTP runs FTP over IPv6 through a DR director as
// TestIntegrationFTPPortGroup does over IPv4, with the kernel's FTP rule
// instead of a mark: vsftpd on VIP6 (lab.StartFTP6), `ulvsadm -A -t
// [VIP6]:21 -s rr -p 300`. Passive (EPSV) data connections go to ports
// 10000-20000 of VIP6, which the director's lookup gives the port-21
// service (ip_vs_service_find's rule for TCP to port 20 or an
// unprivileged port) and its template (vport 0) the control
// connection's real server; active (EPRT) ones come from the real server
// itself, from [VIP6]:20.
func TestIntegrationIPv6FTP(t *testing.T) {
	skipUnprivileged(t)
	needBins(t, "vsftpd")
	e := newEnvLab(t, lab.Config{RealServers: 2, IPv6: true}, func(*lab.Lab) string { return "[director]\ninterfaces = [\"d-eth0\"]\n" })
	ftpCtx, stopFTP := context.WithCancel(context.Background())
	t.Cleanup(stopFTP)
	if err := e.lab.StartFTP6(ftpCtx); err != nil {
		t.Fatalf("start vsftpd on VIP6: %v", err)
	}
	ctx := context.Background()
	vip6 := e.lab.VIP6
	svc := netip.AddrPortFrom(vip6, lab.FTPPort).String()
	e.mustAdm("-A", "-t", svc, "-s", "rr", "-p", "300")
	for _, r := range e.lab.RIPs6 {
		e.mustAdm("-a", "-t", svc, "-r", netip.AddrPortFrom(r, lab.FTPPort).String(), "-g")
	}
	server := ""
	deadline := time.Now().Add(20 * time.Second)
	for server == "" {
		try, cancel := context.WithTimeout(ctx, 5*time.Second)
		tr, err := e.lab.FTPRetrieve(try, vip6, "/whoami.txt")
		cancel()
		if err == nil {
			server = strings.TrimSpace(string(tr.Data))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FTP through VIP6 never worked: %v\nulvsd log:\n%s", err, e.logText())
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i, active := range []bool{false, true, false, true} {
		var tr *lab.FTPTransfer
		var err error
		if active {
			tr, err = lab.FTPRetrieveActive(ctx, e.lab.Client.DialContext, e.lab.Client.Listen, netip.AddrPortFrom(vip6, lab.FTPPort), "/data.bin")
		} else {
			tr, err = e.lab.FTPRetrieve(ctx, vip6, "/data.bin")
		}
		if err != nil {
			t.Fatalf("transfer %d (active %v): %v\nulvsd log:\n%s", i, active, err, e.logText())
		}
		if sum := sha256.Sum256(tr.Data); hex.EncodeToString(sum[:]) != lab.DataSHA256(lab.FTPDataSize) {
			t.Fatalf("transfer %d: %d bytes with the wrong sha256", i, len(tr.Data))
		}
		if !strings.Contains(tr.Greeting, server) {
			t.Errorf("transfer %d (active %v): control connection greeted by %q, the template wants %s", i, active, tr.Greeting, server)
		}
		if active && tr.ActiveFrom != netip.AddrPortFrom(vip6, lab.FTPDataPort) {
			t.Errorf("active transfer %d: data connection from %v, want [%s]:%d", i, tr.ActiveFrom, vip6, lab.FTPDataPort)
		}
		if !active && (tr.Passive.Addr() != vip6 || tr.Passive.Port() < lab.FTPPassiveMin || tr.Passive.Port() > lab.FTPPassiveMax) {
			t.Errorf("passive transfer %d: EPSV gave %v", i, tr.Passive)
		}
	}
	// A second client address gets its own template (-M 128): rr gives
	// it the other server, for control and data alike.
	clientB := netip.MustParseAddr("2001:db8:77::20")
	if out, err := e.lab.Client.Run(ctx, "ip", "-6", "addr", "add", clientB.String()+"/64", "dev", "c-eth0", "nodad"); err != nil {
		t.Fatalf("add a second client address: %v %s", err, out)
	}
	tr, err := lab.FTPRetrieve(ctx, dialFrom(e.lab.Client, clientB), netip.AddrPortFrom(vip6, lab.FTPPort), "/whoami.txt")
	if err != nil {
		t.Fatalf("second client: %v\nulvsd log:\n%s", err, e.logText())
	}
	if other := strings.TrimSpace(string(tr.Data)); other == server || !strings.Contains(tr.Greeting, other) {
		t.Errorf("second client: data from %s, greeting %q; want the other server for both", other, tr.Greeting)
	}
	conns := e.mustAdm("-L", "-n", "-c")
	if !strings.Contains(conns, "["+vip6.String()+"]:0") {
		t.Errorf("-L -n -c has no FTP template <TCP, client, VIP6, vport 0>:\n%s", conns)
	}
}
