package director_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// methodConfig is the mode's demo configuration plus a UDP service on the
// same VIP and real servers.
func methodConfig(t *testing.T, mode string, l0 *lab.Lab) string {
	t.Helper()
	base, err := lab.DemoConfig(mode)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.Write(base)
	fmt.Fprintf(&b, "\n[[virtual_server]]\nprotocol = \"udp\"\naddress = \"10.77.0.100:80\"\nscheduler = \"rr\"\nforward = %q\n", mode)
	if mode == lab.ModeFullNAT {
		b.WriteString("local_addresses = [\"10.77.1.200\", \"10.77.1.201\"]\n")
	}
	for _, rip := range l0.RIPs {
		fmt.Fprintf(&b, "\n[[virtual_server.real_server]]\naddress = %q\n", rip.String()+":80")
	}
	// A UDP service whose real servers listen on nothing: they answer
	// with ICMP port unreachable, which must reach the client.
	fmt.Fprintf(&b, "\n[[virtual_server]]\nprotocol = \"udp\"\naddress = \"10.77.0.100:9999\"\nscheduler = \"rr\"\nforward = %q\n", mode)
	if mode == lab.ModeFullNAT {
		b.WriteString("local_addresses = [\"10.77.1.200\", \"10.77.1.201\"]\n")
	}
	for _, rip := range l0.RIPs {
		fmt.Fprintf(&b, "\n[[virtual_server.real_server]]\naddress = %q\n", rip.String()+":9999")
	}
	return b.String()
}

// TestIntegrationMethods runs each forwarding method of seed 002 (and
// FULLNAT) in its lab: requests split by rr, 10 MiB both ways intact, UDP
// request and response, and the listing's Forward column.
func TestIntegrationMethods(t *testing.T) {
	for _, tc := range []struct{ mode, forward string }{
		{lab.ModeDR, "Route"},
		{lab.ModeNAT, "Masq"},
		{lab.ModeFullNAT, "FullNat"},
		{lab.ModeTUN, "Tunnel"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			skipUnprivileged(t)
			desc, err := lab.NewMode("x", 2, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, lab.Config{RealServers: 2, Mode: tc.mode}, methodConfig(t, tc.mode, desc))
			e.waitReady(2)

			t.Run("200 requests split by rr", func(t *testing.T) {
				got := count(t, e, e.client(), 200)
				if got["rs1"] != 100 || got["rs2"] != 100 {
					t.Errorf("answers = %v, want rs1:100 rs2:100", got)
				}
			})
			const size = 10 << 20
			t.Run("10 MiB download", func(t *testing.T) {
				resp, err := e.client().Get(fmt.Sprintf("http://10.77.0.100/data?size=%d", size))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				h := sha256.New()
				n, err := io.Copy(h, resp.Body)
				if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != lab.DataSHA256(size) {
					t.Fatalf("got %d bytes (%v), sha256 %x", n, err, h.Sum(nil))
				}
			})
			t.Run("10 MiB upload", func(t *testing.T) { e.upload(t, size) })
			t.Run("UDP request and response", func(t *testing.T) {
				seen := map[string]bool{}
				for i := 0; i < 4; i++ {
					reply, err := udpAsk(e.lab, "10.77.0.100:80", fmt.Sprintf("ping %d", i))
					if err != nil {
						t.Fatalf("UDP %d: %v", i, err)
					}
					name, rest, _ := strings.Cut(reply, "\n")
					if rest != fmt.Sprintf("ping %d", i) {
						t.Errorf("UDP reply %q does not echo the request", reply)
					}
					seen[name] = true
				}
				if !seen["rs1"] || !seen["rs2"] {
					t.Errorf("UDP datagrams from four sockets reached %v, want both", seen)
				}
			})
			t.Run("fragmented datagram", func(t *testing.T) {
				// 3000 bytes leave the client in fragments; the director
				// reassembles, forwards and fragments again, and the echo
				// comes back the same way.
				msg := strings.Repeat("x", 3000)
				reply, err := udpAsk(e.lab, "10.77.0.100:80", msg)
				if err != nil {
					t.Fatal(err)
				}
				if _, rest, _ := strings.Cut(reply, "\n"); rest != msg {
					t.Errorf("echo of %d bytes, want %d", len(rest), len(msg))
				}
			})
			t.Run("ICMP error from a real server reaches the client", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				c, err := e.lab.Client.DialContext(ctx, "udp4", "10.77.0.100:9999")
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(3 * time.Second))
				c.Write([]byte("anyone?"))
				_, err = c.Read(make([]byte, 100))
				if err == nil || !strings.Contains(err.Error(), "connection refused") {
					t.Errorf("read after a datagram to a closed port: %v, want connection refused from the translated ICMP error", err)
				}
			})
			t.Run("listing", func(t *testing.T) {
				out := e.mustAdm("-L", "-n")
				if strings.Count(out, " "+tc.forward+" ") < 6 {
					t.Errorf("listing does not show %s for the six real servers:\n%s", tc.forward, out)
				}
			})
			if tc.mode == lab.ModeTUN {
				// The upload's full-size DF segments did not fit the tunnel:
				// the client learned the tunnel MTU from our frag-needed.
				if got := e.snapshot().Engine["frag_needed"]; got == 0 {
					t.Errorf("no ICMP fragmentation needed was sent for the 1500-byte path")
				}
			}
		})
	}
}

// upload POSTs size bytes of lab.DataReader through the VIP and checks
// the digest the real server answers with.
func (e *env) upload(t *testing.T, size int64) { e.uploadTo(t, "http://10.77.0.100/upload", size) }

// uploadTo is upload to the URL url.
func (e *env) uploadTo(t *testing.T, url string, size int64) {
	t.Helper()
	c := e.client()
	c.Timeout = 60 * time.Second
	resp, err := c.Post(url, "application/octet-stream", lab.DataReader(size))
	if err != nil {
		t.Fatalf("upload: %v\nulvsd log:\n%s", err, e.logText())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if strings.TrimSpace(string(body)) != lab.DataSHA256(size) {
		t.Fatalf("server saw sha256 %q, want %s", body, lab.DataSHA256(size))
	}
}

// udpAsk sends one datagram from a new socket in the client namespace and
// returns the answer.
func udpAsk(l *lab.Lab, addr, msg string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for attempt := 0; attempt < 3; attempt++ {
		c, err := l.Client.DialContext(ctx, "udp4", addr)
		if err != nil {
			return "", err
		}
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			c.Close()
			return "", err
		}
		buf := make([]byte, 65536)
		n, err := c.Read(buf)
		c.Close()
		if err == nil {
			return string(buf[:n]), nil
		}
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			return "", err
		}
	}
	return "", fmt.Errorf("no answer from %s", addr)
}

var _ = http.MethodGet
