package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ulvs/ulvs/adm"
	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/vs"
)

// page is what every template gets.
type page struct {
	Title   string
	Nav     string // the current menu entry
	User    string
	Admin   bool
	CSRF    string
	Flash   string
	Error   string // a form-level error
	NoSave  bool   // edits are live only (no configuration file)
	Data    any
	Methods any
	Scheds  []string
}

var pageNames = []string{"login", "control", "virtual", "virtual_edit", "real", "real_edit", "global", "redundancy", "checks", "conns", "sched"}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"sid":       serviceID,
		"svcname":   func(k config.ServiceKey) string { return k.Name() },
		"method":    methodValue,
		"fwd":       func(m vs.Method) string { return m.String() },
		"has":       func(s []string, v string) bool { return slices.Contains(s, v) },
		"destid":    func(a netip.Addr, p uint16) string { return netip.AddrPortFrom(a, p).String() },
		"validaddr": func(a netip.Addr) bool { return a.IsValid() },
	}
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

func (s *Server) render(w http.ResponseWriter, status int, name string, p *page) {
	var b bytes.Buffer
	if err := s.pages[name].Execute(&b, p); err != nil {
		s.log.Error("web: template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// show renders a page for an authenticated request, with its flash
// message.
func (s *Server) show(q *request, status int, name, nav, title string, p *page) {
	p.Title, p.Nav, p.User, p.Admin, p.CSRF = title, nav, q.sess.user, q.sess.role == RoleAdmin, q.sess.csrf
	p.NoSave = s.cfg.Save == nil
	s.mu.Lock()
	if p.Flash == "" {
		p.Flash = s.flash[q.id]
	}
	delete(s.flash, q.id)
	s.mu.Unlock()
	s.render(q.w, status, name, p)
}

// done ends a successful edit: the configuration is saved, the outcome
// is flashed on the page redirected to.
func (s *Server) done(q *request, what, to string) {
	msg := what + "."
	if s.cfg.Save != nil {
		if path, err := s.cfg.Save(); err != nil {
			msg += " Applied to the live director but NOT saved: " + err.Error()
			s.log.Error("web: save", "err", err)
		} else {
			msg += " Saved to " + path + " (the previous file is " + path + ".bak)."
		}
	} else {
		msg += " Live only: ulvsd runs without a configuration file, so this is lost on restart."
	}
	s.log.Info("web: edit", "user", q.sess.user, "what", what)
	s.mu.Lock()
	s.flash[q.id] = msg
	s.mu.Unlock()
	http.Redirect(q.w, q.r, to, http.StatusSeeOther)
}

func (s *Server) controlPage(q *request) {
	snap := s.cfg.Director.Snapshot()
	var table bytes.Buffer
	adm.List(&table, &snap, config.ListOptions{})
	engine := make([]kv, 0, len(snap.Engine))
	for k, v := range snap.Engine {
		if v != 0 {
			engine = append(engine, kv{k, v})
		}
	}
	sort.Slice(engine, func(i, j int) bool { return engine[i].K < engine[j].K })
	s.show(q, http.StatusOK, "control", "control", "Control / Monitoring", &page{Data: map[string]any{
		"Snap": &snap, "Table": table.String(), "Engine": engine, "Info": snap.Info(),
	}})
}

type kv struct {
	K string
	V uint64
}

func (s *Server) findService(k config.ServiceKey) (ctl.ServiceStatus, bool) {
	snap := s.cfg.Director.Snapshot()
	for _, ss := range snap.Services {
		if ss.Key() == k {
			return ss, true
		}
	}
	return ctl.ServiceStatus{}, false
}

func (s *Server) virtualPage(q *request) {
	snap := s.cfg.Director.Snapshot()
	type row struct {
		ctl.ServiceStatus
		ID       string
		Active   int // real servers with weight > 0
		Inactive bool
	}
	var rows []row
	for _, ss := range snap.Services {
		r := row{ServiceStatus: ss, ID: serviceID(ss.Key())}
		for _, d := range ss.Dests {
			if d.Weight > 0 {
				r.Active++
			}
		}
		r.Inactive = len(ss.Dests) > 0 && r.Active == 0
		rows = append(rows, r)
	}
	s.show(q, http.StatusOK, "virtual", "virtual", "Virtual servers", &page{Data: rows})
}

// virtualEdit is the virtual server form's data.
type virtualEdit struct {
	Orig   string // the edited service's id; "" for a new one
	Form   serviceForm
	Errs   fieldErrors
	Flags  []string
	Scheds []string
	// LVSCF is the lvs.cf part of the form (device, timeout, re-entry,
	// quiesce), nil when the file is not an lvs.cf; Checks says whether
	// the service has nanny checks to set (not a new one).
	LVSCF  *virtualFileForm
	Checks bool
}

// lvscfForm fills ve's lvs.cf part from the file, for the service k
// (whose address is addr; invalid for a new one).
func (s *Server) lvscfForm(ve *virtualEdit, k config.ServiceKey, addr netip.Addr) {
	st := s.fileState()
	if st.ReadOnly != "" || st.File.Pulse == nil {
		return
	}
	f := st.File
	vf := &virtualFileForm{}
	for _, v := range f.Pulse.VIPs {
		if v.Addr == addr {
			vf.Device = v.Device
		}
	}
	if vf.Device == "" && len(f.Interfaces) > 0 {
		vf.Device = f.Interfaces[0]
	}
	if ve.Orig != "" {
		nannyOf(f, k, func(vh *config.VirtualHealth, _ *config.RealHealth, ck *config.Check) {
			vf.CheckTimeout, vf.Reentry = fmt.Sprint(int64(ck.Timeout/time.Second)), fmt.Sprint(int64(ck.Reentry/time.Second))
			vf.Quiesce, ve.Checks = ck.QuiesceServer, true
		})
	}
	ve.LVSCF = vf
}

func formOf(s config.Service) serviceForm {
	f := serviceForm{Scheduler: s.Scheduler, Persistent: s.Persistent, OnePacket: s.OnePacket, SchedFlags: s.SchedFlags}
	if s.FwMark != 0 {
		f.Proto, f.FwMark = "fwmark", fmt.Sprint(s.FwMark)
		if s.IPv6() {
			f.Proto = "fwmark6"
		}
	} else {
		f.Proto = "tcp"
		if s.Proto == vs.UDP {
			f.Proto = "udp"
		}
		f.Addr, f.Port = s.Addr.String(), fmt.Sprint(s.Port)
	}
	if s.Persistent {
		f.Timeout = fmt.Sprint(s.Timeout)
		switch {
		case s.IPv6() && s.Netmask.IsValid():
			f.Netmask = fmt.Sprint(config.MaskBits(s.Netmask, true))
		case s.Netmask.IsValid():
			f.Netmask = s.Netmask.String()
		}
	}
	return f
}

func (s *Server) virtualEditPage(q *request) {
	ve := &virtualEdit{Form: serviceForm{Proto: "tcp", Scheduler: config.DefaultScheduler}, Errs: fieldErrors{}}
	if id := q.r.URL.Query().Get("svc"); id != "" {
		k, err := parseServiceID(id)
		ss, ok := s.findService(k)
		if err != nil || !ok {
			http.Error(q.w, "no such virtual server", http.StatusNotFound)
			return
		}
		ve.Orig, ve.Form = id, formOf(ss.Service)
		s.lvscfForm(ve, k, ss.Addr)
	} else {
		s.lvscfForm(ve, config.ServiceKey{}, netip.Addr{})
	}
	s.showVirtualEdit(q, http.StatusOK, ve, "")
}

func (s *Server) showVirtualEdit(q *request, status int, ve *virtualEdit, msg string) {
	ve.Flags, ve.Scheds = schedFlagChoices, config.Schedulers()
	title := "Add a virtual server"
	if ve.Orig != "" {
		title = "Edit a virtual server"
	}
	s.show(q, status, "virtual_edit", "virtual", title, &page{Data: ve, Error: msg})
}

// virtualSave adds or edits a virtual server. An edit that changes the
// address, port, protocol or mark adds the new service with the old one's
// real servers, then deletes the old one (its connections end).
func (s *Server) virtualSave(q *request) {
	svc, sf, errs := parseService(q.r.PostForm)
	ve := &virtualEdit{Form: sf, Errs: errs, Orig: q.r.PostForm.Get("orig")}
	var old config.ServiceKey
	var oldDests []config.Dest
	if ve.Orig != "" {
		k, err := parseServiceID(ve.Orig)
		ss, ok := s.findService(k)
		if err != nil || !ok {
			http.Error(q.w, "no such virtual server (deleted meanwhile?)", http.StatusNotFound)
			return
		}
		old = k
		for _, d := range ss.Dests {
			oldDests = append(oldDests, d.Dest)
		}
	}
	fileEdit, vf, ferrs := parseVirtualFile(q.r.PostForm, svc.Key(), svc.Addr)
	if _, ok := q.r.PostForm["lvscf"]; ok {
		_, ve.Checks = q.r.PostForm["lvscf_checks"]
		ve.LVSCF = &vf
	}
	for k, v := range ferrs {
		errs[k] = v
	}
	if len(errs) > 0 {
		s.showVirtualEdit(q, http.StatusUnprocessableEntity, ve, "Nothing was changed: correct the fields marked below.")
		return
	}
	if fileEdit != nil && s.fileState().ReadOnly != "" {
		s.showVirtualEdit(q, http.StatusConflict, ve, "Nothing was changed: the device, timeout, re-entry and quiesce fields are lvs.cf settings, and the configuration file is not an lvs.cf.")
		return
	}
	// finish saves the live change: with the lvs.cf fields through the
	// file editor (which also writes the live rules), else as every edit.
	finish := func(what, to string) {
		if fileEdit == nil {
			s.done(q, what, to)
			return
		}
		s.applyFile(q, what, to, fileEdit, func(status int, why string) {
			s.showVirtualEdit(q, status, ve, "Applied to the live director but NOT saved (the file is unchanged): "+why)
		})
	}
	cmd := config.Command{Op: config.OpAddService, Service: svc, HasService: true}
	switch {
	case ve.Orig == "":
		if err := s.cfg.Director.Apply(cmd); err != nil {
			s.showVirtualEdit(q, http.StatusConflict, ve, "Refused by the director: "+err.Error())
			return
		}
		finish("Added virtual server "+svc.Key().Name(), "/real?svc="+serviceID(svc.Key()))
		return
	case old == svc.Key():
		cmd.Op = config.OpEditService
		if err := s.cfg.Director.Apply(cmd); err != nil {
			s.showVirtualEdit(q, http.StatusConflict, ve, "Refused by the director: "+err.Error())
			return
		}
	default:
		if err := s.moveService(old, svc, oldDests); err != nil {
			s.showVirtualEdit(q, http.StatusConflict, ve, "Refused by the director: "+err.Error())
			return
		}
	}
	finish("Changed virtual server "+svc.Key().Name(), "/virtual")
}

// moveService replaces the service old by svc with dests; on a failure
// the new service is taken out again and old stays.
func (s *Server) moveService(old config.ServiceKey, svc config.Service, dests []config.Dest) error {
	d := s.cfg.Director
	if err := d.Apply(config.Command{Op: config.OpAddService, Service: svc, HasService: true}); err != nil {
		return err
	}
	for _, dst := range dests {
		if svc.Port == 0 && svc.FwMark == 0 {
			dst.Port = 0
		}
		if err := d.Apply(config.Command{Op: config.OpAddDest, Service: svc, HasService: true, Dest: dst}); err != nil {
			d.Apply(config.Command{Op: config.OpDelService, Service: svc, HasService: true})
			return err
		}
	}
	return d.Apply(config.Command{Op: config.OpDelService, Service: config.Service{Proto: old.Proto, Addr: old.Addr, Port: old.Port, FwMark: old.FwMark}, HasService: true})
}

// serviceArg reads the "svc" field of a POST.
func (s *Server) serviceArg(q *request) (ctl.ServiceStatus, bool) {
	k, err := parseServiceID(q.r.PostForm.Get("svc"))
	if err != nil {
		http.Error(q.w, err.Error(), http.StatusBadRequest)
		return ctl.ServiceStatus{}, false
	}
	ss, ok := s.findService(k)
	if !ok {
		http.Error(q.w, "no such virtual server: "+k.Name(), http.StatusNotFound)
	}
	return ss, ok
}

func (s *Server) virtualDelete(q *request) {
	ss, ok := s.serviceArg(q)
	if !ok {
		return
	}
	if err := s.cfg.Director.Apply(config.Command{Op: config.OpDelService, Service: ss.Service, HasService: true}); err != nil {
		s.fail(q, "/virtual", err)
		return
	}
	s.done(q, "Deleted virtual server "+ss.Key().Name(), "/virtual")
}

// fail flashes a refused edit and goes back to the page.
func (s *Server) fail(q *request, to string, err error) {
	s.mu.Lock()
	s.flash[q.id] = "Refused by the director: " + err.Error()
	s.mu.Unlock()
	http.Redirect(q.w, q.r, to, http.StatusSeeOther)
}

// virtualActivate deactivates a virtual server by quiescing every real
// server (weight 0: no new connections, those in flight finish), and
// activates it by giving each its weight back.
func (s *Server) virtualActivate(on bool) func(*request) {
	return func(q *request) {
		ss, ok := s.serviceArg(q)
		if !ok {
			return
		}
		for _, d := range ss.Dests {
			if err := s.setActive(ss.Service, d.Dest, on, 0); err != nil {
				s.fail(q, "/virtual", err)
				return
			}
		}
		what := "Deactivated (quiesced every real server of) "
		if on {
			what = "Activated "
		}
		s.done(q, what+"virtual server "+ss.Key().Name(), "/virtual")
	}
}

// setActive gives d weight 0 (remembering its weight) or its weight back:
// weight if not 0, else the remembered one, else 1.
func (s *Server) setActive(svc config.Service, d config.Dest, on bool, weight int32) error {
	k := weightKey{svc.Key(), netip.AddrPortFrom(d.Addr, d.Port).String()}
	s.mu.Lock()
	if on {
		if weight == 0 {
			weight = s.weights[k]
		}
		if weight == 0 {
			weight = max(d.Weight, 1)
		}
		delete(s.weights, k)
	} else if d.Weight > 0 {
		s.weights[k] = d.Weight
	}
	s.mu.Unlock()
	if on == (d.Weight > 0) && (!on || weight == d.Weight) {
		return nil
	}
	if !on {
		weight = 0
	}
	d.Weight = weight
	return s.cfg.Director.Apply(config.Command{Op: config.OpEditDest, Service: svc, HasService: true, Dest: d})
}

// serviceQuery reads the "svc" of a page's URL: a live service, or a 404.
func (s *Server) serviceQuery(q *request) (config.ServiceKey, ctl.ServiceStatus, bool) {
	k, err := parseServiceID(q.r.URL.Query().Get("svc"))
	ss, ok := s.findService(k)
	if err != nil || !ok {
		http.Error(q.w, "no such virtual server", http.StatusNotFound)
		return k, ss, false
	}
	return k, ss, true
}

func (s *Server) realPage(q *request) {
	k, ss, ok := s.serviceQuery(q)
	if !ok {
		return
	}
	s.mu.Lock()
	remembered := map[string]int32{}
	for wk, w := range s.weights {
		if wk.svc == k {
			remembered[wk.dest] = w
		}
	}
	s.mu.Unlock()
	s.show(q, http.StatusOK, "real", "virtual", "Real servers of "+k.Name(), &page{Data: map[string]any{
		"Svc": ss, "ID": serviceID(k), "Remembered": remembered,
	}})
}

type realEdit struct {
	Svc     ctl.ServiceStatus
	ID      string
	Orig    string
	Form    destForm
	Errs    fieldErrors
	Methods any
}

func (s *Server) realEditPage(q *request) {
	k, ss, ok := s.serviceQuery(q)
	if !ok {
		return
	}
	re := &realEdit{Svc: ss, ID: serviceID(k), Errs: fieldErrors{}, Form: destForm{Weight: "1", Method: "dr"}}
	if len(ss.Dests) > 0 {
		re.Form.Method = methodValue(ss.Dests[0].Method)
	}
	if k.FwMark == 0 && k.Port != 0 {
		re.Form.Port = fmt.Sprint(k.Port)
	}
	if id := q.r.URL.Query().Get("dest"); id != "" {
		ap, err := parseDestID(id)
		i := slices.IndexFunc(ss.Dests, func(d ctl.DestStatus) bool { return err == nil && d.Addr == ap.Addr() && d.Port == ap.Port() })
		if i < 0 {
			http.Error(q.w, "no such real server", http.StatusNotFound)
			return
		}
		d := ss.Dests[i]
		re.Orig = id
		re.Form = destForm{Addr: d.Addr.String(), Port: fmt.Sprint(d.Port), Weight: fmt.Sprint(d.Weight),
			Method: methodValue(d.Method), UThreshold: fmt.Sprint(d.UThreshold), LThreshold: fmt.Sprint(d.LThreshold)}
	}
	s.showRealEdit(q, http.StatusOK, re, "")
}

func (s *Server) showRealEdit(q *request, status int, re *realEdit, msg string) {
	re.Methods = methods
	title := "Add a real server to " + re.Svc.Key().Name()
	if re.Orig != "" {
		title = "Edit real server " + re.Orig + " of " + re.Svc.Key().Name()
	}
	s.show(q, status, "real_edit", "virtual", title, &page{Data: re, Error: msg})
}

// realSave adds or edits a real server; a changed address or port adds
// the new one and deletes the old.
func (s *Server) realSave(q *request) {
	ss, ok := s.serviceArg(q)
	if !ok {
		return
	}
	d, df, errs := parseDest(q.r.PostForm, ss.Key())
	re := &realEdit{Svc: ss, ID: serviceID(ss.Key()), Orig: q.r.PostForm.Get("orig"), Form: df, Errs: errs}
	var old netip.AddrPort
	if re.Orig != "" {
		var err error
		if old, err = parseDestID(re.Orig); err != nil {
			http.Error(q.w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	if len(errs) > 0 {
		s.showRealEdit(q, http.StatusUnprocessableEntity, re, "Nothing was changed: correct the fields marked below.")
		return
	}
	cmd := config.Command{Op: config.OpAddDest, Service: ss.Service, HasService: true, Dest: d}
	to := "/real?svc=" + re.ID
	same := re.Orig != "" && old == netip.AddrPortFrom(d.Addr, d.Port)
	if same {
		cmd.Op = config.OpEditDest
	}
	if err := s.cfg.Director.Apply(cmd); err != nil {
		s.showRealEdit(q, http.StatusConflict, re, "Refused by the director: "+err.Error())
		return
	}
	name := netip.AddrPortFrom(d.Addr, d.Port).String()
	if re.Orig != "" && !same {
		del := config.Command{Op: config.OpDelDest, Service: ss.Service, HasService: true, Dest: config.Dest{Addr: old.Addr(), Port: old.Port()}}
		if err := s.cfg.Director.Apply(del); err != nil {
			s.done(q, "Added real server "+name+" but could not delete "+re.Orig+": "+err.Error(), to)
			return
		}
		s.done(q, "Replaced real server "+re.Orig+" by "+name, to)
		return
	}
	if same {
		s.done(q, "Changed real server "+name, to)
	} else {
		s.done(q, "Added real server "+name, to)
	}
}

// destArg reads the "dest" field of a POST: a real server of ss.
func destArg(q *request, ss ctl.ServiceStatus) (config.Dest, bool) {
	ap, err := parseDestID(q.r.PostForm.Get("dest"))
	if err != nil {
		http.Error(q.w, err.Error(), http.StatusBadRequest)
		return config.Dest{}, false
	}
	for _, d := range ss.Dests {
		if d.Addr == ap.Addr() && d.Port == ap.Port() {
			return d.Dest, true
		}
	}
	http.Error(q.w, "no such real server: "+ap.String(), http.StatusNotFound)
	return config.Dest{}, false
}

// destArgs reads the "svc" and "dest" fields of a POST, and the page to
// go back to.
func (s *Server) destArgs(q *request) (ctl.ServiceStatus, config.Dest, string, bool) {
	ss, ok := s.serviceArg(q)
	if !ok {
		return ss, config.Dest{}, "", false
	}
	d, ok := destArg(q, ss)
	return ss, d, "/real?svc=" + serviceID(ss.Key()), ok
}

func (s *Server) realDelete(q *request) {
	ss, d, to, ok := s.destArgs(q)
	if !ok {
		return
	}
	if err := s.cfg.Director.Apply(config.Command{Op: config.OpDelDest, Service: ss.Service, HasService: true, Dest: d}); err != nil {
		s.fail(q, to, err)
		return
	}
	s.done(q, "Deleted real server "+netip.AddrPortFrom(d.Addr, d.Port).String(), to)
}

// realActivate: deactivating gives weight 0 (quiesce, as Piranha's
// weight-0 server; its connections finish), activating the weight given
// in the form, else the one it had.
func (s *Server) realActivate(on bool) func(*request) {
	return func(q *request) {
		ss, d, to, ok := s.destArgs(q)
		if !ok {
			return
		}
		f := newForm(q.r.PostForm)
		w := int32(f.uint("weight", 1, maxWeight, 0))
		if !f.ok() {
			s.fail(q, to, errors.New("weight: "+f.errs["weight"]))
			return
		}
		if err := s.setActive(ss.Service, d, on, w); err != nil {
			s.fail(q, to, err)
			return
		}
		what := "Deactivated (weight 0) real server "
		if on {
			what = "Activated real server "
		}
		s.done(q, what+netip.AddrPortFrom(d.Addr, d.Port).String(), to)
	}
}

func (s *Server) globalPage(q *request) {
	st := s.fileState()
	if f := st.File; f != nil && f.Pulse != nil {
		st.Form = map[string]string{"primary": addrText(f.Pulse.Primary), "network": network(f), "nat_device": f.Pulse.NATRouterDevice}
		if f.Pulse.NATRouter.IsValid() {
			st.Form["nat_router"] = f.Pulse.NATRouter.String()
		}
	}
	s.showGlobal(q, http.StatusOK, fieldErrors{}, st, "")
}

func (s *Server) showGlobal(q *request, status int, errs fieldErrors, st *fileState, msg string) {
	s.showGlobalFile(q, status, errs, st, nil, nil, msg)
}

// showGlobalFile is showGlobal with the file timeouts and interfaces
// forms as typed (nil: as the file says).
func (s *Server) showGlobalFile(q *request, status int, errs fieldErrors, st *fileState, form map[string]string, ferrs fieldErrors, msg string) {
	snap := s.cfg.Director.Snapshot()
	timeouts, ifaces := fileGlobal(st.File)
	if form == nil && st.File != nil {
		t := st.File.Timeouts
		form = map[string]string{"file_tcp": fmt.Sprint(t.TCP), "file_tcpfin": fmt.Sprint(t.TCPFin), "file_udp": fmt.Sprint(t.UDP),
			"interfaces": strings.Join(st.File.Interfaces, " ")}
	}
	if ferrs == nil {
		ferrs = fieldErrors{}
	}
	s.show(q, status, "global", "global", "Global settings", &page{Error: msg, Data: map[string]any{
		"Snap": &snap, "ConfigPath": s.cfg.ConfigPath, "Info": snap.Info(), "Errs": errs, "File": st,
		"FileTimeouts": timeouts, "FileInterfaces": ifaces, "FileForm": form, "FileErrs": ferrs,
	}})
}

// globalFileTimeouts writes the file's timeouts (an lvs.cf or a ulvs
// TOML file) and applies them (the reload sets them).
func (s *Server) globalFileTimeouts(q *request) {
	s.globalFileForm(q, "Timeouts in the configuration file changed", parseFileTimeouts, func(f *config.File) bool { t, _ := fileGlobal(f); return t })
}

// globalInterfaces writes a ulvs TOML file's interfaces, which apply when
// ulvsd restarts (said on the page).
func (s *Server) globalInterfaces(q *request) {
	s.globalFileForm(q, "Interfaces changed", parseInterfaces, func(f *config.File) bool { _, i := fileGlobal(f); return i })
}

func (s *Server) globalFileForm(q *request, what string, parse func(url.Values) (func(*config.File) error, map[string]string, fieldErrors), ok func(*config.File) bool) {
	edit, form, errs := parse(q.r.PostForm)
	st := s.fileState()
	render := func(status int, msg string) { s.showGlobalFile(q, status, fieldErrors{}, st, form, errs, msg) }
	if !ok(st.File) {
		render(http.StatusConflict, "NOT saved: the console does not write this setting into this configuration file (edit the file and reload ulvsd with SIGHUP).")
		return
	}
	if len(errs) > 0 {
		render(http.StatusUnprocessableEntity, "Nothing was changed: correct the fields marked below.")
		return
	}
	s.applyFile(q, what, "/global", edit, notSaved(render))
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// network is Piranha's network type of f: its real servers' method.
func network(f *config.File) string {
	for _, svc := range f.Rules.Services {
		for _, d := range svc.Dests {
			for name, m := range networks {
				if m == d.Method {
					return name
				}
			}
		}
	}
	return "nat" // Piranha's default
}

// globalFileSave writes GLOBAL SETTINGS to the file and applies it.
func (s *Server) globalFileSave(q *request) {
	edit, form, errs := parseGlobalFile(q.r.PostForm)
	st := s.fileState()
	st.Form, st.Errs = form, errs
	render := func(status int, msg string) { s.showGlobal(q, status, fieldErrors{}, st, msg) }
	if st.ReadOnly != "" {
		render(http.StatusConflict, "NOT saved: "+st.ReadOnly)
		return
	}
	if len(errs) > 0 {
		render(http.StatusUnprocessableEntity, "Nothing was changed: correct the fields marked below.")
		return
	}
	s.applyFile(q, "Global settings changed", "/global", edit, notSaved(render))
}

// setTimeouts is ipvsadm --set tcp tcpfin udp (0 keeps a value).
func (s *Server) setTimeouts(q *request) {
	f := newForm(q.r.PostForm)
	t := config.Timeouts{
		TCP:    uint32(f.uint("tcp", 0, maxPersistTimeout, 0)),
		TCPFin: uint32(f.uint("tcpfin", 0, maxPersistTimeout, 0)),
		UDP:    uint32(f.uint("udp", 0, maxPersistTimeout, 0)),
	}
	if !f.ok() {
		s.showGlobal(q, http.StatusUnprocessableEntity, f.errs, s.fileState(), "Nothing was changed: correct the fields marked below.")
		return
	}
	if err := s.cfg.Director.Apply(config.Command{Op: config.OpSetTimeout, Timeouts: t}); err != nil {
		s.fail(q, "/global", err)
		return
	}
	// --set is not a rule: the file keeps its [timeouts] (said on the page).
	s.mu.Lock()
	s.flash[q.id] = fmt.Sprintf("Timeouts set on the live director (tcp %d, tcpfin %d, udp %d; 0 kept a value). Not written to the configuration file: change [timeouts] there to keep them.", t.TCP, t.TCPFin, t.UDP)
	s.mu.Unlock()
	s.log.Info("web: edit", "user", q.sess.user, "what", "timeouts")
	http.Redirect(q.w, q.r, "/global", http.StatusSeeOther)
}

func (s *Server) redundancyPage(q *request) {
	st := s.fileState()
	if f := st.File; f != nil && f.Pulse != nil {
		p := f.Pulse
		st.Form = map[string]string{"backup": addrText(p.Backup), "backup_active": fmt.Sprint(p.BackupActive), "heartbeat": fmt.Sprint(p.Heartbeat),
			"keepalive": fmt.Sprint(int64(p.Keepalive / time.Second)), "deadtime": fmt.Sprint(int64(p.Deadtime / time.Second)), "heartbeat_port": fmt.Sprint(p.HeartbeatPort)}
	}
	s.showRedundancy(q, http.StatusOK, st, nil, "")
}

// showRedundancy shows the page, the VRRP instance form vf (nil: none)
// as typed.
func (s *Server) showRedundancy(q *request, status int, st *fileState, vf *vrrpForm, msg string) {
	snap := s.cfg.Director.Snapshot()
	name := ""
	if vf != nil {
		name = vf.Name
	}
	s.show(q, status, "redundancy", "redundancy", "Redundancy", &page{Error: msg, Data: map[string]any{"Snap": &snap, "File": st, "VRRP": vrrpForms(st.File, name, vf)}})
}

// redundancyVRRP writes a VRRP instance's priority and advert interval
// (a ulvs TOML file or a keepalived.conf) and applies it: a changed
// instance restarts without a change of master (docs/ha.md).
func (s *Server) redundancyVRRP(q *request) {
	st := s.fileState()
	edit, vf := parseVRRP(q.r.PostForm, st.File)
	render := func(status int, msg string) { s.showRedundancy(q, status, st, vf, msg) }
	if len(vf.Errs) > 0 {
		render(http.StatusUnprocessableEntity, "Nothing was changed: correct the fields marked below.")
		return
	}
	s.applyFile(q, "VRRP instance "+vf.Name+" changed", "/redundancy", edit, notSaved(render))
}

func (s *Server) redundancySave(q *request) {
	edit, form, errs := parseRedundancy(q.r.PostForm)
	st := s.fileState()
	st.Form, st.Errs = form, errs
	render := func(status int, msg string) { s.showRedundancy(q, status, st, nil, msg) }
	if st.ReadOnly != "" {
		render(http.StatusConflict, "NOT saved: "+st.ReadOnly)
		return
	}
	if len(errs) > 0 {
		render(http.StatusUnprocessableEntity, "Nothing was changed: correct the fields marked below.")
		return
	}
	s.applyFile(q, "Redundancy settings changed", "/redundancy", edit, notSaved(render))
}

// notSaved shows a refused file edit: nothing changed.
func notSaved(render func(int, string)) func(int, string) {
	return func(status int, why string) { render(status, "NOT saved, nothing changed: "+why) }
}

// scriptForm is one virtual server's MONITORING SCRIPTS form.
type scriptForm struct {
	ID   string // serviceID
	Name string
	Form map[string]string
	Errs fieldErrors
}

// scriptForms are the forms of the file's virtual servers that have
// nanny checks, with the one of id replaced by form and errs.
func scriptForms(f *config.File, id string, form map[string]string, errs fieldErrors) []scriptForm {
	var out []scriptForm
	if f == nil {
		return nil
	}
	for _, vh := range f.Health {
		for _, rh := range vh.Reals {
			i := slices.IndexFunc(rh.Checks, func(c config.Check) bool { return c.Kind == config.CheckNanny })
			if i < 0 {
				continue
			}
			c := rh.Checks[i]
			sf := scriptForm{ID: serviceID(vh.Service), Name: vh.Service.Name(), Errs: fieldErrors{}, Form: map[string]string{
				"send": config.NannyEscape(c.Send), "expect": config.NannyEscape(c.Expect), "use_regex": fmt.Sprint(c.UseRegex), "send_program": c.SendProgram}}
			if sf.ID == id {
				sf.Form, sf.Errs = form, errs
			}
			out = append(out, sf)
			break
		}
	}
	return out
}

func (s *Server) checksPage(q *request) {
	s.showChecks(q, http.StatusOK, "", nil, nil, nil, "")
}

// showChecks shows the page: the lvs.cf's send/expect forms (the one of
// id with form and errs), or the checker forms of a keepalived.conf or a
// ulvs TOML file (cf replacing its own).
func (s *Server) showChecks(q *request, status int, id string, form map[string]string, errs fieldErrors, cf *checkerForm, msg string) {
	snap := s.cfg.Director.Snapshot()
	st := s.fileState()
	checkers := checkerForms(st.File, cf)
	if st.File != nil && !isLVSCF(st.File) {
		st.ReadOnly = "" // the checker forms below
		if len(checkers) == 0 {
			st.ReadOnly = fmt.Sprintf("%s is a %s file without a health checker: the console edits the checkers a file has; add one in the file and reload ulvsd (SIGHUP).", st.File.Path, formatName(st.File.Format))
		}
	}
	s.show(q, status, "checks", "checks", "Monitoring scripts and health checks", &page{Error: msg, Data: map[string]any{
		"Snap": &snap, "File": st, "Scripts": scriptForms(st.File, id, form, errs), "Checkers": checkers,
		"LVSCF": isLVSCF(st.File)}})
}

func (s *Server) checksSave(q *request) {
	id := q.r.PostForm.Get("svc")
	k, err := parseServiceID(id)
	if err != nil {
		http.Error(q.w, err.Error(), http.StatusBadRequest)
		return
	}
	edit, form, errs := parseScripts(q.r.PostForm, k)
	render := func(status int, msg string) { s.showChecks(q, status, id, form, errs, nil, msg) }
	if ro := s.fileState().ReadOnly; ro != "" {
		render(http.StatusConflict, "NOT saved: "+ro)
		return
	}
	if len(errs) > 0 {
		render(http.StatusUnprocessableEntity, "Nothing was changed: correct the fields marked below.")
		return
	}
	s.applyFile(q, "Monitoring script of "+k.Name()+" changed", "/checks", edit, notSaved(render))
}

// maxConnRows bounds the connections one page lists.
const maxConnRows = 1000

// connFilter is the connection view's filter, every field checked.
type connFilter struct {
	Client, Server, State string
	client                netip.Prefix
	server                netip.Addr
	serverPort            uint16
}

var connStates = []string{"ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK", "UDP", "NONE"}

func parseConnFilter(v map[string][]string) (connFilter, fieldErrors) {
	f := newForm(v)
	cf := connFilter{Client: f.str("client"), Server: f.str("server"), State: f.str("state")}
	if cf.Client != "" {
		if p, err := netip.ParsePrefix(cf.Client); err == nil && p.Addr().Is4() {
			cf.client = p.Masked()
		} else if a, err := netip.ParseAddr(cf.Client); err == nil && a.Is4() {
			cf.client = netip.PrefixFrom(a, 32)
		} else {
			f.errs["client"] = "an IPv4 address or prefix (192.0.2.0/24)"
		}
	}
	if cf.Server != "" {
		if ap, err := netip.ParseAddrPort(cf.Server); err == nil && ap.Addr().Is4() {
			cf.server, cf.serverPort = ap.Addr(), ap.Port()
		} else if a, err := netip.ParseAddr(cf.Server); err == nil && a.Is4() {
			cf.server = a
		} else {
			f.errs["server"] = "an IPv4 address, or address:port"
		}
	}
	if cf.State != "" && !slices.Contains(connStates, cf.State) {
		f.errs["state"] = "one of " + strings.Join(connStates, ", ")
	}
	return cf, f.errs
}

func (cf *connFilter) match(c *ctl.ConnStatus) bool {
	if cf.client.IsValid() && !cf.client.Contains(c.Client.Addr()) {
		return false
	}
	if cf.server.IsValid() && (c.Dest.Addr() != cf.server || (cf.serverPort != 0 && c.Dest.Port() != cf.serverPort)) {
		return false
	}
	return cf.State == "" || c.State == cf.State
}

func (s *Server) connsPage(q *request) {
	cf, errs := parseConnFilter(q.r.URL.Query())
	var rows []ctl.ConnStatus
	total, matched := 0, 0
	if len(errs) == 0 {
		all := s.cfg.Director.Conns()
		total = len(all)
		for i := range all {
			if cf.match(&all[i]) {
				matched++
				if len(rows) < maxConnRows {
					rows = append(rows, all[i])
				}
			}
		}
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	s.show(q, status, "conns", "conns", "Connections", &page{Data: map[string]any{
		"Filter": cf, "Errs": errs, "Rows": rows, "Total": total, "Matched": matched, "Max": maxConnRows, "States": connStates,
	}})
}
