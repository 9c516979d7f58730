// Package healthcheck runs keepalived's checkers (TCP_CHECK, HTTP_GET,
// SSL_GET, MISC_CHECK, SMTP_CHECK, DNS_CHECK, UDP_CHECK, PING_CHECK) and
// Piranha's nanny send/expect against real servers, folds their results
// into a per-server and per-service verdict (all checkers up, quorum and
// hysteresis, sorry server, inhibit_on_failure, misc_dynamic weights) and
// turns verdicts into rule edits through the director's edit API, the way
// keepalived's checker process drives IPVS.
//
// It never touches the data path: its only way into the table is the
// Editor it is given. It logs keepalived's own lines for the same events so
// that log greps keep working.
package healthcheck
