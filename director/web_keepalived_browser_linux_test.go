package director_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// consoleKeepalived is the keepalived.conf TestIntegrationWebConsoleKeepalived
// runs: a lone VRRP master and one DR virtual server, rs1 with a
// TCP_CHECK, rs2 with an HTTP_GET.
const consoleKeepalived = `! the web console's keepalived.conf
vrrp_instance VI_1 {
    state MASTER
    interface d-eth0
    virtual_router_id 51
    priority 100 # the master
    advert_int 1
    virtual_ipaddress {
        10.77.0.100
    }
}

virtual_server 10.77.0.100 80 {
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.77.0.11 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 10.77.0.12 80 {
        weight 1
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 1
        }
    }
}
`

// TestIntegrationWebConsoleKeepalived edits a keepalived.conf-run director
// in headless Chromium: the VRRP instance's advert interval and priority
// on the Redundancy page (an interval VRRPv2 cannot carry refused next to
// its field; a good one written into the vrrp_instance block, comment
// kept, and seen in the live state), a real server's weight through the
// real server form (written as keepalived's "weight 3", its TCP_CHECK
// kept, FILE.bak the previous file), and a real server the file cannot
// hold (NAT in a DR virtual_server): applied live, the page says NOT
// saved, naming lb_kind, and the file stays. Then rs1's TCP_CHECK on
// the Monitoring scripts page: connect_port 81 takes rs1 out of the
// table, 80 brings it back (the file, its .bak and ulvsadm -L -n
// checked each time); rs2's HTTP_GET url path /nothere (a 404) takes
// rs2 out, / brings it back; the monitor's POST is refused with 403.
func TestIntegrationWebConsoleKeepalived(t *testing.T) {
	e, br, base := consoleOn(t, consoleKeepalived, "keepalived.conf", 120*time.Second)
	e.waitTable(t, 15*time.Second, "both servers", `-> 10\.77\.0\.11:80 +Route +1 `, `-> 10\.77\.0\.12:80 +Route +1 `)
	e.waitHA(t, "MASTER", 15*time.Second)
	file := func(name string) string { return fileText(t, name) }
	set := setValue

	br.run("redundancy", chromedp.Navigate(base+"/redundancy"), chromedp.WaitVisible(chromedp.ID("vrrp-VI_1")))
	br.waitText("#ha td.interval", "1s")
	br.waitText("#file-readonly", "keepalived.conf")
	br.run("refused advert interval", set(`#vrrp-VI_1 input[name=advert_int]`, "1.5"), chromedp.Click(chromedp.CSS(`#vrrp-VI_1 button`)))
	br.waitText("#err-advert_int", "whole seconds")
	if file(e.cfg) != consoleKeepalived {
		t.Fatal("a refused form changed the file")
	}
	br.run("advert interval 2, priority 120", chromedp.Navigate(base+"/redundancy"), chromedp.WaitVisible(chromedp.ID("vrrp-VI_1")),
		set(`#vrrp-VI_1 input[name=advert_int]`, "2"), set(`#vrrp-VI_1 input[name=priority]`, "120"), chromedp.Click(chromedp.CSS(`#vrrp-VI_1 button`)))
	br.waitText("#flash", "VRRP instance VI_1 changed. Saved to "+e.cfg+" (the previous file is "+e.cfg+".bak) and applied to the running director.")
	text := file(e.cfg)
	if !strings.Contains(text, "    priority 120 # the master\n    advert_int 2\n") || !strings.HasPrefix(text, "! the web console's keepalived.conf\n") {
		t.Fatalf("keepalived.conf after the edit:\n%s", text)
	}
	if file(e.cfg+".bak") != consoleKeepalived {
		t.Fatal("FILE.bak is not the previous file")
	}
	br.waitText("#ha td.interval", "2s")
	br.waitText("#ha", "120/120")
	br.waitText("#ha", "MASTER")
	br.shot("redundancy-vrrp")

	// A real server's weight, through the real server form.
	br.run("edit rs1", chromedp.Navigate(base+"/real/edit?svc=tcp-10.77.0.100-80&dest=10.77.0.11:80"), chromedp.WaitVisible(chromedp.ID("real-form")),
		set("#weight", "3"), chromedp.Click(chromedp.ID("save-real")))
	br.waitText("#flash", "Changed real server 10.77.0.11:80. Saved to "+e.cfg)
	text = file(e.cfg)
	if !strings.Contains(text, "    real_server 10.77.0.11 80 {\n        weight 3\n        TCP_CHECK {\n            connect_timeout 1\n") {
		t.Fatalf("keepalived.conf after the weight edit:\n%s", text)
	}
	e.waitTable(t, 5*time.Second, "weight 3", `-> 10\.77\.0\.11:80 +Route +3 `)

	// A NAT real server in a DR virtual_server: live, but not saved.
	br.run("add a NAT real server", chromedp.Navigate(base+"/real/edit?svc=tcp-10.77.0.100-80"), chromedp.WaitVisible(chromedp.ID("real-form")),
		set("#addr", "10.77.0.13"), chromedp.SetValue(chromedp.ID("method"), "nat"), chromedp.Click(chromedp.ID("save-real")))
	br.waitText("#flash", "Applied to the live director but NOT saved")
	br.waitText("#flash", "lb_kind")
	if file(e.cfg) != text {
		t.Fatal("a refused save changed the file")
	}
	e.mustAdm("-d", "-t", "10.77.0.100:80", "-r", "10.77.0.13:80")

	// rs1's TCP_CHECK on the Monitoring scripts page: a port of 0 refused
	// next to its field; connect_port 81 (nothing listens there) saved
	// into the checker's block and reloaded, so rs1 leaves the table;
	// port 80 brings it back.
	form := `form[id="chk-tcp-10.77.0.100-80-10.77.0.11:80-0"]`
	checker := func(what, port string) {
		t.Helper()
		br.run(what, chromedp.Navigate(base+"/checks"), chromedp.WaitVisible(chromedp.ID("checkers")),
			set(form+" input[name=connect_port]", port), chromedp.Click(chromedp.CSS(form+" button")))
	}
	before := file(e.cfg)
	checker("refused connect_port", "0")
	br.waitText("#err-connect_port", "from 1 to 65535")
	if file(e.cfg) != before {
		t.Fatal("a refused checker form changed the file")
	}
	rs1Block := "    real_server 10.77.0.11 80 {\n        weight 3\n        TCP_CHECK {\n            connect_timeout 1\n            connect_port %s\n        }\n"
	checker("connect_port 81", "81")
	savedAt := time.Now()
	br.waitText("#flash", "TCP_CHECK of real server 10.77.0.11:80 of TCP 10.77.0.100:80 changed. Saved to "+e.cfg+" (the previous file is "+e.cfg+".bak) and applied to the running director.")
	if text := file(e.cfg); !strings.Contains(text, fmt.Sprintf(rs1Block, "81")) || file(e.cfg+".bak") != before {
		t.Fatalf("keepalived.conf after the checker edit:\n%s", text)
	}
	out := e.waitTable(t, 20*time.Second, "rs1 out: its check connects to port 81", `!-> 10\.77\.0\.11:80 `, `-> 10\.77\.0\.12:80 +Route +1 `)
	t.Logf("connect_port 81: rs1 out of the table %.1f s after the save", out.Sub(savedAt).Seconds())
	br.run("checks page", chromedp.Navigate(base+"/checks"), chromedp.WaitVisible(chromedp.ID("checkers")))
	br.shot("checks-keepalived")
	before = file(e.cfg)
	checker("connect_port 80", "80")
	savedAt = time.Now()
	br.waitText("#flash", "TCP_CHECK of real server 10.77.0.11:80 of TCP 10.77.0.100:80 changed. Saved to "+e.cfg)
	if text := file(e.cfg); !strings.Contains(text, fmt.Sprintf(rs1Block, "80")) || file(e.cfg+".bak") != before {
		t.Fatalf("keepalived.conf after the checker edit:\n%s", text)
	}
	back := e.waitTable(t, 20*time.Second, "rs1 back with its weight", `-> 10\.77\.0\.11:80 +Route +3 `, `-> 10\.77\.0\.12:80 +Route +1 `)
	t.Logf("connect_port 80: rs1 back %.1f s after the save", back.Sub(savedAt).Seconds())

	// rs2's HTTP_GET: a path that is not one refused; /nothere (404, not
	// the 200 asked) takes rs2 out; / brings it back.
	httpForm := `form[id="chk-tcp-10.77.0.100-80-10.77.0.12:80-0"]`
	urlPath := func(what, path string) {
		t.Helper()
		br.run(what, chromedp.Navigate(base+"/checks"), chromedp.WaitVisible(chromedp.ID("checkers")),
			set(httpForm+" input[name=url_path]", path), chromedp.Click(chromedp.CSS(httpForm+" button")))
	}
	before = file(e.cfg)
	urlPath("refused url path", "nothere")
	br.waitText("#err-url_path", "starts with /")
	if file(e.cfg) != before {
		t.Fatal("a refused checker form changed the file")
	}
	rs2Block := "        HTTP_GET {\n            url {\n                path %s\n                status_code 200\n            }\n"
	httpSaved := "HTTP_GET of real server 10.77.0.12:80 of TCP 10.77.0.100:80 changed. Saved to " + e.cfg
	urlPath("url path /nothere", "/nothere")
	savedAt = time.Now()
	br.waitText("#flash", httpSaved)
	if text := file(e.cfg); !strings.Contains(text, fmt.Sprintf(rs2Block, "/nothere")) || file(e.cfg+".bak") != before {
		t.Fatalf("keepalived.conf after the url edit:\n%s", text)
	}
	out = e.waitTable(t, 20*time.Second, "rs2 out: its url answers 404", `-> 10\.77\.0\.11:80 +Route +3 `, `!-> 10\.77\.0\.12:80 `)
	t.Logf("url path /nothere: rs2 out of the table %.1f s after the save", out.Sub(savedAt).Seconds())
	before = file(e.cfg)
	urlPath("url path /", "/")
	savedAt = time.Now()
	br.waitText("#flash", httpSaved)
	if text := file(e.cfg); !strings.Contains(text, fmt.Sprintf(rs2Block, "/")) || file(e.cfg+".bak") != before {
		t.Fatalf("keepalived.conf after the url edit:\n%s", text)
	}
	back = e.waitTable(t, 20*time.Second, "rs2 back", `-> 10\.77\.0\.11:80 +Route +3 `, `-> 10\.77\.0\.12:80 +Route +1 `)
	t.Logf("url path /: rs2 back %.1f s after the save", back.Sub(savedAt).Seconds())

	// The monitor: no checker form; its POST with a valid token is refused.
	before = file(e.cfg)
	br.run("log out", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("logout")), chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("login-form")))
	br.run("monitor logs in", chromedp.SendKeys(chromedp.ID("user"), "watcher"), chromedp.SendKeys(chromedp.ID("password"), "watch-pass-1"),
		chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("table")), chromedp.Navigate(base+"/checks"), chromedp.WaitVisible(chromedp.ID("checkers")))
	status, err := chromedp.Run(br.ctx, chromedp.Evaluate[string](`(async function(){
		var tok=document.querySelector('form[action="/logout"] input[name=csrf]').value;
		var r=await fetch("/checks/checker",{method:"POST",body:new URLSearchParams({csrf:tok,svc:"tcp-10.77.0.100-80",real:"10.77.0.11:80",check:"0",kind:"TCP_CHECK",connect_port:"81"})});
		return document.querySelectorAll("form.checker-form").length+" "+r.status+" "+(await r.text());})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(status, "0 "+strconv.Itoa(http.StatusForbidden)+" ") || !strings.Contains(status, "read-only") {
		t.Errorf("monitor's checker POST: %q, want no form and 403 saying read-only", status)
	}
	if file(e.cfg) != before {
		t.Error("the monitor's POST changed the file")
	}
}
