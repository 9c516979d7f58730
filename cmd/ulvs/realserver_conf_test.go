package main

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/realserver"
)

func writeConf(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lvs.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRealserverUpConf reads the real-server part of configure-script
// files into realserver.Config (without touching the host).
func TestRealserverUpConf(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name, conf string
		args       []string
		want       realserver.Config
		wantErr    string
	}{
		{
			name: "seed 004 DR",
			conf: "LVS_TYPE=VS_DR\nVIP=eth0:110 10.77.0.100 255.255.255.255 10.77.0.100\nSERVICE=t 80 rr 10.77.0.11 10.77.0.12\n" +
				"SERVER_VIP_DEVICE=lo:0\nSERVER_NET_DEVICE=eth0\nSERVER_GW=10.77.0.1\n",
			want: realserver.Config{Mode: realserver.ModeDR, VIPs: []netip.Addr{a("10.77.0.100")}, VIPDevice: "lo:0", NetDevice: "eth0", Gateway: a("10.77.0.1")},
		},
		{
			name: "net device overridden",
			conf: "LVS_TYPE=VS_DR\nVIP=eth0 10.77.0.100\nSERVICE=t 80 10.77.0.11\nSERVER_VIP_DEVICE=lo\nSERVER_NET_DEVICE=eth0\n",
			args: []string{"--net-device", "r2-eth0"},
			want: realserver.Config{Mode: realserver.ModeDR, VIPs: []netip.Addr{a("10.77.0.100")}, VIPDevice: "lo", NetDevice: "r2-eth0"},
		},
		{
			name: "TUN on tunl0",
			conf: "LVS_TYPE=VS_TUN\nVIP=eth0 10.77.0.100\nSERVICE=t 80 10.77.0.11\nSERVER_VIP_DEVICE=tunl0\nSERVER_NET_DEVICE=eth0\n",
			want: realserver.Config{Mode: realserver.ModeTUN, VIPs: []netip.Addr{a("10.77.0.100")}, NetDevice: "eth0"},
		},
		{
			name: "TUN on a named device",
			conf: "LVS_TYPE=VS_TUN\nVIP=eth0 10.77.0.100\nSERVICE=t 80 10.77.0.11\nSERVER_VIP_DEVICE=tun9\n",
			want: realserver.Config{Mode: realserver.ModeTUN, VIPs: []netip.Addr{a("10.77.0.100")}, VIPDevice: "tun9", TunName: "tun9"},
		},
		{
			name: "NAT through the director's inside address",
			conf: "LVS_TYPE=VS_NAT\nVIP=eth0 10.77.0.100\nDIRECTOR_INSIDEIP=eth1 10.77.1.1\nSERVICE=t 80 10.77.1.11\nSERVER_NET_DEVICE=eth0\n",
			want: realserver.Config{Mode: realserver.ModeNAT, NetDevice: "eth0", Gateway: a("10.77.1.1")},
		},
		{
			name:    "NAT without a gateway",
			conf:    "LVS_TYPE=VS_NAT\nVIP=eth0 10.77.0.100\nSERVICE=t 80 10.77.1.11\n",
			wantErr: "set SERVER_GW",
		},
		{
			name:    "--conf with --vip",
			conf:    "LVS_TYPE=VS_DR\nVIP=eth0 10.77.0.100\nSERVICE=t 80 10.77.0.11\n",
			args:    []string{"--vip", "10.0.0.1"},
			wantErr: "leave out --mode",
		},
		{
			name:    "bad file",
			conf:    "LVS_TYPE=VS_XX\n",
			wantErr: "VS_XX",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConf(t, tt.conf)
			args := append([]string{"--conf", path, "--name", "x"}, tt.args...)
			o, err := rsParseUp(args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := o.cfg
			tt.want.Name, tt.want.StateDir = "x", realserver.DefaultStateDir
			if tt.want.TunName == "" {
				tt.want.TunName = realserver.DefaultTunName
			}
			if got.Mode != tt.want.Mode || !slices.Equal(got.VIPs, tt.want.VIPs) || got.VIPDevice != tt.want.VIPDevice ||
				got.NetDevice != tt.want.NetDevice || got.Gateway != tt.want.Gateway || got.TunName != tt.want.TunName {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
