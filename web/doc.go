// Package web is the ulvs web console: Piranha's pages (control and
// monitoring, global settings, redundancy, virtual servers, real servers,
// monitoring scripts) on the live director, with live charts fed by
// server-sent events, a connection-table view and logins.
//
// It reaches the director only through the Director interface it
// declares: the edit API ulvsadm's requests take (Apply with a
// config.Command, Snapshot, Conns) and a save of the configuration file.
// It never touches the engine or the tables. cmd/ulvsd (package director)
// builds a Server and runs Serve.
//
// # Security
//
// Every page but /login needs a session: a random 256-bit token in a
// cookie that is HttpOnly, SameSite=Strict, and Secure when the console
// serves TLS. Every POST carries the session's CSRF token (a form field,
// compared in constant time) and is refused without it. Users and their
// bcrypt hashes are in a password file (`ulvs passwd`, SetPassword) read
// at each login; the monitor role may look but every edit is refused.
// Failed logins are limited per client address (LoginLimit). Request
// bodies are bounded (MaxBody) and every form field is checked before it
// becomes a config.Command; nothing from a request reaches a shell or a
// file path.
//
// A Server is safe for concurrent use.
package web
