// Package engine is the ulvs data path: it receives frames on AF_PACKET
// rings, classifies them, looks them up in the connection table, asks the
// scheduler for a real server on a miss, rewrites them for the forwarding
// method and transmits them in batches.
//
// # Shape
//
// One worker goroutine per socket index: worker i owns socket i of every
// interface's fanout group. The groups use PACKET_FANOUT_CBPF rather than
// PACKET_FANOUT_HASH, with a program that hashes the client's side of a
// flow (fanoutProgram), so both directions of a NAT or FULLNAT connection,
// and ICMP errors about it, reach the same worker, which owns its conntrack
// table, buffers and TX batch without locks. (With more VIPs than the
// program lists, 100, traffic to VIPs is hashed like replies: fine for DR
// and TUN, but NAT and FULLNAT then need a single worker per interface.) A worker runs each received batch to completion:
//
//	ring RX batch -> pkt.Decode -> classify (ARP, ICMP echo, VIP service)
//	  -> conntrack.Lookup --miss--> Scheduler.Schedule -> conntrack.Insert
//	  -> conntrack.Step -> forward rewrite in place -> sendmmsg TX batch
//
// The TX batch is flushed as soon as the ring has nothing more ready, never
// on a timer, so latency stays low at low rates. The packet and byte
// counters of services and real servers, shared by all workers, are summed
// per batch and added to just before the flush (statbatch.go), as the
// kernel keeps them per CPU.
//
// # Tables
//
// The control plane hands a new immutable vs.Table to SetTable; workers load
// it once per batch through an atomic pointer. Connections in flight keep
// their dest across a swap because conntrack stores dest IDs, which the
// control plane keeps stable.
//
// # Checksum offload and GSO
//
// Sockets use PACKET_VNET_HDR: every frame carries a virtio_net_hdr that
// describes a pending (CHECKSUM_PARTIAL) checksum and GSO super-frames of up
// to 64 KiB. The engine forwards that header with the frame, so a partial
// checksum is completed and a super-frame segmented by whoever finally needs
// it, exactly as the kernel would have done.
//
// # Concurrency
//
// New must run on a thread inside the network namespace of the interfaces:
// sockets keep the namespace they were created in. SetTable, Stats and
// SendFrames are safe for concurrent use with Run.
package engine
