// Package tcx assembles small eBPF programs and links them to an
// interface's tcx ingress hook (BPF_LINK_CREATE with BPF_TCX_INGRESS,
// kernel 6.6 and later): the director's ingress bypass (package engine)
// and the real server's IPIP decapsulation (package realserver).
//
// The programs are written instruction by instruction in Go, not compiled
// from C: they are a few dozen instructions each, and ulvs needs no
// compiler, no object files and no library to load them. A link lives as
// long as its file descriptor, so a program goes when the process that
// attached it goes, however it ends.
package tcx
