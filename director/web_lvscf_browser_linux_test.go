package director_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// consoleLVSCF is the lvs.cf TestIntegrationWebConsoleLVSCF runs: pulse
// with a backup that is not there (the primary becomes active after
// deadtime), one DR virtual server with nanny's HTTP check.
const consoleLVSCF = `# the web console's lvs.cf (Piranha's layout)
serial_no = 1
primary = 10.77.0.2
service = lvs
backup = 10.77.0.3
backup_active = 1
heartbeat = 1
heartbeat_port = 539
keepalive = 2
deadtime = 4
network = direct
virtual web {
     active = 1
     address = 10.77.0.100 d-eth0:1
     port = 80
     send = "GET / HTTP/1.0\r\n\r\n"
     expect = "HTTP"
     scheduler = rr
     protocol = tcp
     timeout = 1
     reentry = 2
     server rs1 {
         address = 10.77.0.11
         active = 1
         weight = 1
     }
     server rs2 {
         address = 10.77.0.12
         active = 1
         weight = 1
     }
}
`

// TestIntegrationWebConsoleLVSCF edits an lvs.cf-run director through
// Piranha's pages in headless Chromium: REDUNDANCY (the heartbeat
// interval, seen changed in the live pulse status), MONITORING SCRIPTS
// (a wrong expect string takes the real servers out, the right one brings
// them back), the virtual server's device, timeout, re-entry and quiesce
// (a failing server then stays with weight 0), GLOBAL SETTINGS; each time
// the file on disk, FILE.bak and the live director are checked. Malformed
// values are refused next to their field; a change the running director
// cannot take (an interface) is saved and said to apply at restart; the
// monitor role's POST is refused.
func TestIntegrationWebConsoleLVSCF(t *testing.T) {
	e, br, base := consoleOn(t, consoleLVSCF, "lvs.cf", 150*time.Second)
	both := []string{`TCP  10\.77\.0\.100:80 rr`, `-> 10\.77\.0\.11:80 +Route +1 `, `-> 10\.77\.0\.12:80 +Route +1 `}
	e.waitTable(t, 15*time.Second, "both servers added by their first check", both...)
	e.waitHA(t, "MASTER", 15*time.Second)
	file := func(name string) string { return fileText(t, name) }
	has := func(text string, lines ...string) {
		t.Helper()
		for _, l := range lines {
			if !strings.Contains(text, l) {
				t.Fatalf("lacks %q:\n%s", l, text)
			}
		}
	}
	saved := func(what string) {
		t.Helper()
		br.waitText("#flash", what+". Saved to "+e.cfg+" (the previous file is "+e.cfg+".bak) and applied to the running director.")
		has(file(e.cfg), "# the web console's lvs.cf (Piranha's layout)\n", "     server rs2 {\n         address = 10.77.0.12\n")
	}
	set := func(id, value string) chromedp.Action[chromedp.Void] { return setValue("#"+id, value) }

	// REDUNDANCY: a dead time shorter than the interval is refused next
	// to its field; a good change is written and pulse restarts with it.
	br.run("redundancy page", chromedp.Navigate(base+"/redundancy"), chromedp.WaitVisible(chromedp.ID("redundancy-form")))
	br.waitText("#ha td.interval", "2s")
	before := file(e.cfg)
	br.run("refused dead time", set("keepalive", "3"), set("deadtime", "2"), chromedp.Click(chromedp.ID("save-redundancy")))
	br.waitText("#err-deadtime", "longer than the heartbeat interval")
	br.waitText("#form-error", "Nothing was changed")
	if file(e.cfg) != before {
		t.Fatal("a refused form changed the file")
	}
	br.run("heartbeat every second", set("keepalive", "1"), set("deadtime", "3"), chromedp.Click(chromedp.ID("save-redundancy")))
	saved("Redundancy settings changed")
	has(file(e.cfg), "keepalive = 1\n", "deadtime = 3\n")
	if bak := file(e.cfg + ".bak"); bak != before {
		t.Fatalf("FILE.bak is not the previous file:\n%s", bak)
	}
	br.run("redundancy again", chromedp.Navigate(base+"/redundancy"), chromedp.WaitVisible(chromedp.ID("ha")))
	br.waitText("#ha td.interval", "1s")
	br.waitText("#ha", "MASTER")
	br.shot("redundancy")

	// MONITORING SCRIPTS: expect a string the servers never send: nanny
	// takes them out; the right one brings them back.
	script := func(expect string) {
		t.Helper()
		br.run("expect "+expect, chromedp.Navigate(base+"/checks"), chromedp.WaitVisible(chromedp.CSS(".script-form")),
			chromedp.Evaluate[chromedp.Void](`(function(){var f=document.querySelector(".script-form");f.querySelector("input[name=expect]").value=`+strconv.Quote(expect)+`;f.submit();})()`))
		saved("Monitoring script of TCP 10.77.0.100:80 changed")
		has(file(e.cfg), "     expect = "+expect+"\n")
	}
	br.run("refused escape", chromedp.Navigate(base+"/checks"), chromedp.WaitVisible(chromedp.CSS(".script-form")),
		chromedp.Evaluate[chromedp.Void](`(function(){var f=document.querySelector(".script-form");f.querySelector("input[name=send]").value="GET /\\q";f.submit();})()`))
	br.waitText(".script-form .field-error", "unknown escape")
	// failing waits until the checks page shows both servers failing on
	// the answer (not merely restarted by the reload).
	failing := func() {
		t.Helper()
		br.run("checks page", chromedp.Navigate(base+"/checks"), chromedp.WaitVisible(chromedp.ID("checks")))
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			got := br.text("#checks")
			if strings.Count(got, `unexpected answer "HTTP"`) >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the checks page never showed both servers failing on the answer: %q", got)
			}
			br.run("reload", chromedp.Reload())
		}
	}
	script("NOPE")
	savedAt := time.Now()
	failing()
	t.Logf("expect NOPE: both servers fail on the answer %.1f s after the save", time.Since(savedAt).Seconds())
	e.waitTable(t, time.Second, "both servers out while they fail", `!-> 10\.77\.0\.11:80 `, `!-> 10\.77\.0\.12:80 `)
	br.shot("checks")
	script("HTTP")
	savedAt = time.Now()
	back := e.waitTable(t, 20*time.Second, "both servers back with the right expect", both...)
	t.Logf("expect HTTP: both servers back %.1f s after the save", back.Sub(savedAt).Seconds())
	if got := count(t, e, e.client(), 4); got["rs1"] != 2 || got["rs2"] != 2 {
		t.Fatalf("answers through the VIP: %v, want rs1 and rs2 twice each", got)
	}

	// The virtual server's lvs.cf fields: quiesce_server keeps a failing
	// server in the table with weight 0.
	br.run("virtual server", chromedp.Navigate(base+"/virtual/edit?svc=tcp-10.77.0.100-80"), chromedp.WaitVisible(chromedp.ID("device")))
	br.shot("virtual-edit-lvscf")
	br.run("refused device", set("device", "d eth0"), set("reentry", "x"), chromedp.Click(chromedp.ID("save-virtual")))
	br.waitText("#err-device", "invalid interface name")
	br.waitText("#err-reentry", "whole number")
	br.run("device, timeout, re-entry, quiesce", set("device", "d-eth0:2"), set("check_timeout", "1"), set("reentry", "3"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("quiesce").checked=true`))
	br.run("save virtual server", chromedp.Click(chromedp.ID("save-virtual")))
	saved("Changed virtual server TCP 10.77.0.100:80")
	has(file(e.cfg), "     address = 10.77.0.100 d-eth0:2\n", "     reentry = 3\n", "     quiesce_server = 1\n")
	e.waitTable(t, 20*time.Second, "both servers after the reload", both...)
	script("NOPE")
	failing()
	e.waitTable(t, time.Second, "quiesced, not removed", `-> 10\.77\.0\.11:80 +Route +0 `, `-> 10\.77\.0\.12:80 +Route +0 `)
	script("HTTP")
	e.waitTable(t, 20*time.Second, "weights back", both...)

	// A checked real server's weight through the real server form: saved
	// into its server block, and kept by the checks (the file reloaded).
	br.run("weight of rs2", chromedp.Navigate(base+"/real/edit?svc=tcp-10.77.0.100-80&dest=10.77.0.12:80"), chromedp.WaitVisible(chromedp.ID("real-form")),
		set("weight", "2"), chromedp.Click(chromedp.ID("save-real")))
	br.waitText("#flash", "Changed real server 10.77.0.12:80. Saved to "+e.cfg)
	has(file(e.cfg), "     server rs2 {\n         address = 10.77.0.12\n         active = 1\n         weight = 2\n")
	e.waitTable(t, 5*time.Second, "weight 2 kept", `-> 10\.77\.0\.12:80 +Route +2 `)

	// GLOBAL SETTINGS: a NAT router is refused with network = direct.
	br.run("global settings", chromedp.Navigate(base+"/global"), chromedp.WaitVisible(chromedp.ID("global-form")))
	before = file(e.cfg)
	br.run("refused NAT router", set("nat_router", "10.77.1.254/24"), set("nat_device", "d-eth1:1"), chromedp.Click(chromedp.ID("save-global")))
	br.waitText("#err-nat_router", "nat only")
	br.run("global again", chromedp.Navigate(base+"/global"), chromedp.WaitVisible(chromedp.ID("global-form")))
	br.shot("global")
	br.run("primary unchanged, network direct", chromedp.Click(chromedp.ID("save-global")))
	saved("Global settings changed")
	if file(e.cfg) != before {
		t.Errorf("saving the global settings unchanged rewrote the file:\n%s", file(e.cfg))
	}

	// A device on another interface: saved, and said to apply at restart.
	br.run("device on another interface", chromedp.Navigate(base+"/virtual/edit?svc=tcp-10.77.0.100-80"), chromedp.WaitVisible(chromedp.ID("device")),
		set("device", "d-eth7:1"), chromedp.Click(chromedp.ID("save-virtual")))
	br.waitText("#flash", "Saved, applies at restart: interfaces: ulvsd runs with d-eth0; the file's d-eth7 applies when ulvsd restarts")
	has(file(e.cfg), "     address = 10.77.0.100 d-eth7:1\n")

	// The monitor sees the settings without a form; its POST is refused.
	before = file(e.cfg)
	br.run("log out", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("logout")), chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("login-form")))
	br.run("monitor logs in", chromedp.SendKeys(chromedp.ID("user"), "watcher"), chromedp.SendKeys(chromedp.ID("password"), "watch-pass-1"),
		chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("table")), chromedp.Navigate(base+"/redundancy"), chromedp.WaitVisible(chromedp.ID("ha")))
	br.waitText("main", "heartbeat every 1 s")
	for _, p := range []string{"/redundancy/save", "/global/file", "/checks/save"} {
		status, err := chromedp.Run(br.ctx, chromedp.Evaluate[string](`(async function(){
			var tok=document.querySelector('form[action="/logout"] input[name=csrf]').value;
			var r=await fetch(`+strconv.Quote(p)+`,{method:"POST",body:new URLSearchParams({csrf:tok,svc:"tcp-10.77.0.100-80",keepalive:"9",deadtime:"20",heartbeat_port:"539",primary:"10.77.0.2",network:"direct",expect:"x"})});
			return r.status+" "+(await r.text());})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(status, strconv.Itoa(http.StatusForbidden)+" ") || !strings.Contains(status, "read-only") {
			t.Errorf("monitor's POST %s: %q, want 403 saying read-only", p, status)
		}
	}
	if file(e.cfg) != before {
		t.Error("the monitor's POSTs changed the file")
	}
}
