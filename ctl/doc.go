// Package ctl is the admin protocol between ulvsadm and the ulvsd daemon:
// the request and snapshot types, the server (Listen, Serve) and the client
// (Dial).
//
// # Wire format
//
// A client connects to a unix stream socket (DefaultSocket, or the path of
// --socket / $ULVS_SOCKET) and sends requests, each one JSON object on one
// line; the server answers each with one JSON line. A connection may carry
// any number of requests. Requests are bounded (MaxRequestSize); a bad one
// gets an error response and the connection is closed.
//
// # Under stress
//
// Each connection is served by its own goroutine, so a slow client delays
// no one else; a request must arrive whole within IdleTimeout of the
// server starting to wait for it, or the connection is closed. When accept
// fails because descriptors, buffers or memory ran out (EMFILE, ENFILE,
// ENOBUFS, ENOMEM), Serve logs it and retries with a back-off from 5 ms
// up to 1 s instead of giving up; connections already open are served
// throughout.
//
// # Security
//
// Listen creates the socket mode 0600 in a 0755 directory, and Serve checks
// the peer's credentials (SO_PEERCRED): only uid 0 may use it, as only root
// may change IPVS rules. Other peers get ErrPermission.
//
// # Errors
//
// An error from the daemon's Director travels as a code and a message. The
// client turns the code back into the same sentinel (config.ErrNoService,
// config.ErrDestExists, ..., ErrPermission), so errors.Is works on both
// sides and ulvsadm can print ipvsadm's message for it.
//
// Server and Client are safe for concurrent use.
package ctl
