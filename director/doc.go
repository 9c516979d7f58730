// Package director is the ulvsd daemon: it loads the configuration file
// (config/load: ulvs.toml today, keepalived.conf next), compiles
// rules into vs.Table snapshots for the engine, resolves real-server MACs,
// serves the control socket and handles SIGHUP/SIGTERM. cmd/ulvsd and the
// hidden `ulvs ulvsd` subcommand call Main.
package director
