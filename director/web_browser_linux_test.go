package director_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ulvs/ulvs/lab"
)

// webShots, when set, is where TestIntegrationWebConsole writes a
// screenshot of each page (scripts/web-screenshots.sh writes docs/img).
var webShots = flag.String("web-screenshots", "", "write the web console's screenshots to `dir`")

// chromium finds the browser, or "" (the test is then skipped).
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// consoleProxy forwards connections to 127.0.0.1:port in the root
// namespace, where the browser runs, to the console at addr, dialled from
// the lab's client namespace: the browser is an administrator's on the
// client network.
func consoleProxy(t *testing.T, client lab.NS, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				u, err := client.DialContext(ctx, "tcp", addr)
				cancel()
				if err != nil {
					return
				}
				defer u.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
				go func() { io.Copy(c, u); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
				<-done
				<-done
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestIntegrationWebConsole drives the console in headless Chromium on a
// DR lab: log in (after a wrong password), add a virtual server and two
// real servers through the forms, see them in ulvsadm -L -n and the saved
// file, fetch through the VIP, deactivate a real server and see traffic
// move, watch the live counters rise while a client loop runs, the
// refusals (a form without its CSRF token, a monitor user's edit), log
// out.
func TestIntegrationWebConsole(t *testing.T) {
	skipUnprivileged(t)
	browser := chromium()
	if browser == "" {
		t.Skip("no chromium (scripts/setup-host.sh installs it)")
	}
	dir := t.TempDir()
	users := consoleUsers(t, dir)
	const webAddr = "10.77.0.2:8080"
	// The file has one checked service whose real server refuses the
	// check (nothing listens on port 81): the pages show its state and
	// last error. The test adds the other service through the forms.
	e := newEnv(t, lab.Config{}, fmt.Sprintf(`[director]
interfaces = ["d-eth0"]

[web]
listen = %q
users = %q

[[virtual_server]]
protocol = "tcp"
address = "10.77.0.101:81"
scheduler = "wlc"
forward = "dr"
delay_loop = 1

  [[virtual_server.real_server]]
  address = "10.77.0.12:81"
  weight = 1
  inhibit_on_failure = true

    [[virtual_server.real_server.check]]
    type = "tcp"
    connect_timeout = 1
    retry = 0
`, webAddr, users))
	// rules100 is the part of the rules the browser edits (the checks may
	// change the other service's weight at any time).
	rules100 := func() string {
		var out []string
		for _, l := range strings.Split(e.mustAdm("-S", "-n"), "\n") {
			if strings.Contains(l, "10.77.0.100:80") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	base := consoleProxy(t, e.lab.Client, webAddr)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	br := newBrowser(t, ctx, browser, dir, e)
	bctx, run, shot, text, waitText := br.ctx, br.run, br.shot, br.text, br.waitText

	// A wrong password is refused; the right one lands on the control page.
	run("wrong password", chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(chromedp.ID("user"), "admin"), chromedp.SendKeys(chromedp.ID("password"), "not-the-password"),
		chromedp.Click(chromedp.ID("login")))
	waitText("#form-error", "Wrong user name or password")
	shot("login")
	run("log in", chromedp.SendKeys(chromedp.ID("user"), "admin"), chromedp.SendKeys(chromedp.ID("password"), "console-pass-1"),
		chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("table")))

	// A virtual server and two real servers through the forms.
	run("add virtual server", chromedp.Navigate(base+"/virtual/edit"), chromedp.WaitVisible(chromedp.ID("addr")),
		chromedp.SendKeys(chromedp.ID("addr"), "10.77.0.100"), chromedp.SendKeys(chromedp.ID("port"), "80"),
		chromedp.SetValue(chromedp.ID("scheduler"), "rr"))
	shot("virtual-edit")
	run("save virtual server", chromedp.Click(chromedp.ID("save-virtual")), chromedp.WaitVisible(chromedp.ID("real-servers")))
	for _, rip := range e.lab.RIPs {
		run("add real server "+rip.String(), chromedp.Click(chromedp.ID("add-real")), chromedp.WaitVisible(chromedp.ID("real-form")),
			chromedp.SendKeys(chromedp.ID("addr"), rip.String()), chromedp.SetValue(chromedp.ID("method"), "dr"))
		if rip == e.lab.RIPs[0] {
			shot("real-edit")
		}
		run("save real server", chromedp.Click(chromedp.ID("save-real")))
		waitText("#flash", "Added real server "+rip.String()+":80. Saved to "+e.cfg)
	}
	list := e.mustAdm("-L", "-n")
	for _, want := range []string{"TCP  10.77.0.100:80 rr", "-> 10.77.0.11:80                Route   1", "-> 10.77.0.12:80                Route   1"} {
		if !strings.Contains(list, want) {
			t.Fatalf("ulvsadm -L -n lacks %q:\n%s", want, list)
		}
	}
	saved, err := os.ReadFile(e.cfg)
	if err != nil || !strings.Contains(string(saved), `address = "10.77.0.100:80"`) || !strings.Contains(string(saved), `address = "10.77.0.12:80"`) {
		t.Fatalf("saved file lacks the edits (%v):\n%s", err, saved)
	}
	if _, err := os.Stat(e.cfg + ".bak"); err != nil {
		t.Errorf("no backup of the previous file: %v", err)
	}
	e.waitReady(2)
	if got := count(t, e, e.client(), 6); len(got) != 2 || got["rs1"] != 3 || got["rs2"] != 3 {
		t.Fatalf("answers through the VIP: %v, want rs1 and rs2 three times each", got)
	}
	shot("real")

	// Deactivate rs1: every new connection goes to rs2.
	run("deactivate rs1", chromedp.Click(chromedp.CSS(`tr[data-dest="10.77.0.11:80"] form[action="/real/deactivate"] button`)))
	waitText("#flash", "Deactivated (weight 0) real server 10.77.0.11:80")
	if list := e.mustAdm("-L", "-n"); !strings.Contains(list, "-> 10.77.0.11:80                Route   0") {
		t.Fatalf("ulvsadm -L -n after deactivate:\n%s", list)
	}
	if got := count(t, e, e.client(), 6); got["rs2"] != 6 {
		t.Fatalf("answers after deactivating rs1: %v, want rs2 only", got)
	}
	run("activate rs1", chromedp.Click(chromedp.CSS(`tr[data-dest="10.77.0.11:80"] form[action="/real/activate"] button`)))
	waitText("#flash", "Activated real server 10.77.0.11:80")
	if got := count(t, e, e.client(), 6); got["rs1"] != 3 || got["rs2"] != 3 {
		t.Fatalf("answers after activating rs1 again: %v", got)
	}

	// Live counters rise while a client loop runs.
	loopCtx, stopLoop := context.WithCancel(ctx)
	var requests atomic.Int64
	var loop sync.WaitGroup
	loop.Add(1)
	go func() {
		defer loop.Done()
		c := e.client()
		for loopCtx.Err() == nil {
			if _, err := e.get(c, "/"); err == nil {
				requests.Add(1)
			}
		}
	}()
	run("control page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`section[data-service="tcp-10.77.0.100-80"] .totals`)))
	totals := `section[data-service="tcp-10.77.0.100-80"] .totals`
	first := connsSince(waitText(totals, "Connections since start: "))
	deadline := time.Now().Add(30 * time.Second)
	var legend string
	for {
		legend = text(`section[data-service="tcp-10.77.0.100-80"] figure[data-metric="cps"] .legend`)
		now := connsSince(text(totals))
		if now >= first+20 && totalOf(legend) > 0 {
			t.Logf("the page's connection count rose from %d to %d; %s", first, now, legend)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live counters did not rise (%d requests made): from %d to %d, chart %q", requests.Load(), first, now, legend)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if *webShots != "" {
		// Charts worth a picture: half a minute of the loop.
		waitUpdates := func(n int) {
			for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
				got, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("charts").dataset.updates||"0"`))
				if k, _ := strconv.Atoi(got); err == nil && k >= n {
					return
				}
			}
		}
		waitUpdates(30)
	}
	if got := text("#table"); !strings.Contains(got, "10.77.0.100:80 rr") {
		t.Errorf("live table on the control page: %q", got)
	}
	shot("control")
	run("connections page", chromedp.Navigate(base+"/conns?server=10.77.0.12"), chromedp.WaitVisible(chromedp.ID("conns")))
	if got := text("#conns"); !strings.Contains(got, "10.77.0.12:80") || strings.Contains(got, "10.77.0.11:80") {
		t.Errorf("connections filtered by real server 10.77.0.12: %q", got)
	}
	shot("conns")
	stopLoop()
	loop.Wait()
	run("health checks", chromedp.Navigate(base+"/checks"), chromedp.WaitVisible(chromedp.ID("checks")))
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Second) {
		got := text("#checks")
		if strings.Contains(got, "DOWN") && strings.Contains(got, "failed: ") {
			t.Logf("checks page: %q", got)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the checks page never showed the refused check as DOWN with its error: %q", got)
		}
		run("reload", chromedp.Reload())
	}
	// The refused check on the Monitoring scripts page: a port that is not
	// a number refused next to its field; connect_port 80 (rs2's web
	// server) saved into its check table and reloaded, so the server is
	// up (weight 1); its own port 81 again: down (weight 0, inhibited).
	chk := `form[id="chk-tcp-10.77.0.101-81-10.77.0.12:81-0"]`
	checker := func(what, port string) {
		t.Helper()
		run(what, chromedp.Navigate(base+"/checks"), chromedp.WaitVisible(chromedp.ID("checkers")),
			setValue(chk+" input[name=connect_port]", port), chromedp.Click(chromedp.CSS(chk+" button")))
	}
	fileBefore := fileText(t, e.cfg)
	checker("refused connect_port", "http")
	waitText("#err-connect_port", "whole number")
	if fileText(t, e.cfg) != fileBefore {
		t.Fatal("a refused checker form changed the file")
	}
	checkSaved := "TCP_CHECK of real server 10.77.0.12:81 of TCP 10.77.0.101:81 changed. Saved to " + e.cfg + " (the previous file is " + e.cfg + ".bak) and applied to the running director."
	checker("connect_port 80", "80")
	savedAt := time.Now()
	waitText("#flash", checkSaved)
	if text := fileText(t, e.cfg); !strings.Contains(text, "    type = \"tcp\"\n    connect_port = 80\n    connect_timeout = 1\n") || fileText(t, e.cfg+".bak") != fileBefore {
		t.Fatalf("the file after the checker edit:\n%s", text)
	}
	up := e.waitTable(t, 20*time.Second, "10.77.0.12:81 up: its check connects to port 80", `-> 10\.77\.0\.12:81 +Route +1 `)
	t.Logf("connect_port 80: the server up %.1f s after the save", up.Sub(savedAt).Seconds())
	run("checks page", chromedp.Navigate(base+"/checks"), chromedp.WaitVisible(chromedp.ID("checkers")))
	shot("checks-toml")
	fileBefore = fileText(t, e.cfg)
	checker("connect_port 81", "81")
	savedAt = time.Now()
	waitText("#flash", checkSaved)
	if text := fileText(t, e.cfg); strings.Contains(text, "connect_port") || fileText(t, e.cfg+".bak") != fileBefore {
		t.Fatalf("the file after the checker edit (port 81 is the server's own: no connect_port):\n%s", text)
	}
	down := e.waitTable(t, 20*time.Second, "10.77.0.12:81 down again, inhibited", `-> 10\.77\.0\.12:81 +Route +0 `)
	t.Logf("connect_port 81: the server down %.1f s after the save", down.Sub(savedAt).Seconds())

	// Global settings, redundancy and monitoring scripts of an lvs.cf:
	// TestIntegrationWebConsoleLVSCF shoots them.
	run("page virtual", chromedp.Navigate(base+"/virtual"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	shot("virtual")

	// The file's timeouts through the Global settings page: written as a
	// [timeouts] table and applied (the reload sets them); a malformed one
	// is refused next to its field.
	run("global settings", chromedp.Navigate(base+"/global"), chromedp.WaitVisible(chromedp.ID("file-timeouts-form")),
		setValue("#file_tcp", "12x"), chromedp.Click(chromedp.ID("save-file-timeouts")))
	waitText("#err-file_tcp", "whole number")
	run("file timeouts", setValue("#file_tcp", "600"), setValue("#file_udp", "30"), chromedp.Click(chromedp.ID("save-file-timeouts")))
	waitText("#flash", "Timeouts in the configuration file changed. Saved to "+e.cfg+" (the previous file is "+e.cfg+".bak) and applied to the running director.")
	if text := fileText(t, e.cfg); !strings.Contains(text, "\n[timeouts]\ntcp = 600\nudp = 30\n") {
		t.Fatalf("the file after the timeouts edit:\n%s", text)
	}
	if got := e.mustAdm("-L", "--timeout"); !strings.Contains(got, "Timeout (tcp tcpfin udp): 600 ") || !strings.HasSuffix(strings.TrimSpace(got), " 30") {
		t.Fatalf("ulvsadm -L --timeout after the edit: %q", got)
	}
	run("scheduler simulator", chromedp.Navigate(base+"/sched?sched=wrr&servers=A%3A4+B%3A3+C%3A2&n=18"), chromedp.WaitVisible(chromedp.ID("sched-picks")))
	waitText("#sched-result", "44%") // A, weight 4 of 9: 8 of the 18 picks
	shot("sched")
	// A phone-sized screen: the menu wraps, the tables scroll in their cards.
	run("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/real?svc=tcp-10.77.0.100-80"), chromedp.WaitVisible(chromedp.ID("real-servers")))
	width, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil || width > 400 {
		t.Errorf("on a 390-pixel screen the page is %d pixels wide (%v): it should not scroll sideways", width, err)
	}
	shot("phone")
	run("desktop again", chromedp.EmulateViewport(1100, 900))

	// Malformed and oversized fields are refused next to the field, and
	// nothing changes (the values are set by script: maxlength stops typing).
	before := rules100()
	run("malformed fields", chromedp.Navigate(base+"/virtual/edit"), chromedp.WaitVisible(chromedp.ID("addr")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("addr").value="10.77.0.300";document.getElementById("port").value="8".repeat(300);document.getElementById("timeout").value="30";`),
		chromedp.Click(chromedp.ID("save-virtual")))
	waitText("#err-addr", "not an IP address")
	waitText("#err-port", "too long")
	waitText("#err-timeout", "needs persistence")
	waitText("#form-error", "Nothing was changed")
	shot("refused")
	if after := rules100(); after != before {
		t.Fatalf("a refused form changed the rules:\n%s", after)
	}

	// A form without its CSRF token is refused and changes nothing.
	run("POST without the CSRF token", chromedp.Navigate(base+"/virtual"), chromedp.WaitVisible(chromedp.ID("virtual-servers")),
		chromedp.Evaluate[chromedp.Void](`(function(){var f=document.querySelector('form[action="/virtual/delete"]');f.classList.remove("confirm");f.querySelector('input[name=csrf]').remove();f.submit();})()`),
		chromedp.WaitVisible(chromedp.CSS("body")))
	waitText("body", "refused: missing or wrong CSRF token")
	if after := rules100(); after != before {
		t.Fatalf("a POST without its CSRF token changed the rules:\n%s", after)
	}

	// Log out; the pages are closed again.
	run("log out", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("logout")), chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("login-form")), chromedp.Navigate(base+"/virtual"), chromedp.WaitVisible(chromedp.ID("login-form")))

	// The monitor sees, but its edit (a POST with its own valid token) is
	// refused.
	run("monitor logs in", chromedp.SendKeys(chromedp.ID("user"), "watcher"), chromedp.SendKeys(chromedp.ID("password"), "watch-pass-1"),
		chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("table")), chromedp.Navigate(base+"/virtual"),
		chromedp.WaitVisible(chromedp.ID("virtual-servers")))
	forms, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('form[action^="/virtual/"], form[action^="/real/"]').length`))
	if err != nil {
		t.Fatal(err)
	}
	if forms != 0 {
		t.Errorf("the monitor's page has %d edit forms", forms)
	}
	status, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(async function(){
		var tok=document.querySelector('form[action="/logout"] input[name=csrf]').value;
		var r=await fetch("/virtual/delete",{method:"POST",body:new URLSearchParams({csrf:tok,svc:"tcp-10.77.0.100-80"})});
		return r.status+" "+(await r.text());})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(status, strconv.Itoa(http.StatusForbidden)+" ") || !strings.Contains(status, "read-only") {
		t.Errorf("monitor's delete: %q, want 403 saying read-only", status)
	}
	if after := rules100(); after != before {
		t.Fatalf("the monitor's POST changed the rules:\n%s", after)
	}
}

// consoleUsers writes the console's password file with ulvs passwd:
// admin/console-pass-1 and watcher/watch-pass-1 (monitor).
func consoleUsers(t *testing.T, dir string) string {
	t.Helper()
	users := filepath.Join(dir, "web.passwd")
	for _, u := range [][3]string{{"admin", "admin", "console-pass-1"}, {"watcher", "monitor", "watch-pass-1"}} {
		cmd := exec.Command(filepath.Join(binDir, "ulvs"), "passwd", "-f", users, "-role", u[1], u[0])
		cmd.Stdin = strings.NewReader(u[2] + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ulvs passwd: %v\n%s", err, out)
		}
	}
	return users
}

// consoleOn starts ulvsd on conf (written as file: "lvs.cf",
// "keepalived.conf") in a lab with two real servers, its console on the
// director's address with consoleUsers, and headless Chromium logged in
// as admin; it returns the console's URL as the browser reaches it. The
// test is skipped without chromium.
func consoleOn(t *testing.T, conf, file string, timeout time.Duration) (*env, *browser, string) {
	t.Helper()
	skipUnprivileged(t)
	path := chromium()
	if path == "" {
		t.Skip("no chromium (scripts/setup-host.sh installs it)")
	}
	dir := t.TempDir()
	users := consoleUsers(t, dir)
	const webAddr = "10.77.0.2:8080"
	e := newEnvOpts(t, lab.Config{RealServers: 2}, conf, envOpts{file: file, args: []string{"--web", webAddr, "--web-users", users}})
	base := consoleProxy(t, e.lab.Client, webAddr)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	br := newBrowser(t, ctx, path, dir, e)
	br.run("log in", chromedp.Navigate(base+"/login"), chromedp.SendKeys(chromedp.ID("user"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), "console-pass-1"), chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("table")))
	return e, br, base
}

// fileText is the content of the file name.
func fileText(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// setValue sets the value of the form field sel (a CSS selector) by
// script: maxlength stops typing, and the tests type what a user cannot.
func setValue(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`document.querySelector(` + strconv.Quote(sel) + `).value=` + strconv.Quote(value))
}

// browser is headless Chromium driven by chromedp, with the steps the
// console's tests take: run actions, screenshots (-web-screenshots),
// reading and waiting for an element's text.
type browser struct {
	t     *testing.T
	ctx   context.Context
	e     *env
	start time.Time
}

func newBrowser(t *testing.T, ctx context.Context, path, dir string, e *env) *browser {
	actx, acancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1100, 900),
		chromedp.UserDataDir(filepath.Join(dir, "chromium")))...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return &browser{t: t, ctx: bctx, e: e, start: time.Now()}
}

func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.t.Logf("%5.1fs %s", time.Since(b.start).Seconds(), what)
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\nulvsd log:\n%s", what, err, b.e.logText())
	}
}

// shot writes the page's screenshot as web-NAME.png when
// -web-screenshots is set.
func (b *browser) shot(name string) {
	b.t.Helper()
	if *webShots == "" {
		return
	}
	shoot := chromedp.FullScreenshot(100)
	if name == "conns" { // a thousand rows: the first screenful
		shoot = chromedp.CaptureScreenshot()
	}
	png, err := chromedp.Run(b.ctx, shoot)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(*webShots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*webShots, "web-"+name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// waitText waits until the element sel exists and its text holds want
// (a click's page load is not waited for by the click).
func (b *browser) waitText(sel, want string) string {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(function(){var e=document.querySelector(`+strconv.Quote(sel)+`);return e?e.textContent:"";})()`))
		if err == nil && strings.Contains(got, want) {
			return got
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s never said %q (last: %q, %v)\nulvsd log:\n%s", sel, want, got, err, b.e.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// connsSince reads "Connections since start: N" from the page; -1 when
// absent.
func connsSince(s string) int {
	_, rest, ok := strings.Cut(s, "Connections since start: ")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(strings.Fields(rest)[0])
	if err != nil {
		return -1
	}
	return n
}

// totalOf reads "total: N" from a chart legend (N may carry a k/M/G
// suffix); -1 when absent.
func totalOf(legend string) float64 {
	_, rest, ok := strings.Cut(legend, "total: ")
	if !ok {
		return -1
	}
	num := strings.TrimRightFunc(strings.Fields(strings.TrimSuffix(strings.SplitN(rest, ",", 2)[0], "B"))[0], func(r rune) bool { return r == 'k' || r == 'M' || r == 'G' })
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return -1
	}
	return n
}
