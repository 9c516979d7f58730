package director

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config/tomlfile"
	"github.com/ulvs/ulvs/engine"
	"github.com/ulvs/ulvs/ipvssync"
)

// This file is ulvsd's state file ([director] state_file, --state-file):
// on SIGTERM the daemon writes its connection table there before the
// workers stop; the next ulvsd reads it once its rules are in and its
// workers run, puts every connection back in the table of the worker that
// owns its flow, with its real server and remaining timeout, and removes
// the file. A restart (systemctl restart ulvsd) thus keeps established
// connections on their real servers.
//
// The file is a header line, "ulvs-conns 1 UNIX-MILLISECONDS\n" (when it
// was written), then IPVS connection sync messages (version 1, the
// kernel's wire format, ipvssync) each after its length as 4 big-endian
// bytes. Time spent between the two processes counts against the
// timeouts: an entry whose time ran out while no ulvsd ran is dropped.

const stateMagic = "ulvs-conns 1"

// handoverEngine is the part of the engine that hands its table over.
type handoverEngine interface {
	Handover(ctx context.Context) []ipvssync.Entry
	TakeOver(ctx context.Context, entries []ipvssync.Entry) (engine.SyncBackupStats, error)
}

// encodeState writes entries as a state file's content, taken at now.
func encodeState(entries []ipvssync.Entry, now time.Time) ([]byte, error) {
	b, err := ipvssync.NewBatcher(ipvssync.BatcherConfig{MaxLen: ipvssync.MaxMaxLen, QlenMax: len(entries) + 1})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%s %d\n", stateMagic, now.UnixMilli())
	for i := range entries {
		if err := b.Add(now, &entries[i]); err != nil {
			return nil, err
		}
	}
	for {
		msg, ok := b.Next(now.Add(time.Hour))
		if !ok {
			break
		}
		out.Write(binary.BigEndian.AppendUint32(nil, uint32(len(msg))))
		out.Write(msg)
	}
	if d := b.Stats().Dropped; d > 0 {
		return nil, fmt.Errorf("%d sync messages dropped while encoding", d)
	}
	return out.Bytes(), nil
}

// decodeState reads a state file's content: its entries, their timeouts
// less the time since it was written (now), those run out left out.
func decodeState(data []byte, now time.Time) (entries []ipvssync.Entry, expired int, err error) {
	r := bufio.NewReader(bytes.NewReader(data))
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, 0, errors.New("no header line")
	}
	head, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), stateMagic+" ")
	ms, perr := strconv.ParseInt(head, 10, 64)
	if !ok || perr != nil {
		return nil, 0, fmt.Errorf("header %q: want %q and the time it was written", strings.TrimSpace(line), stateMagic)
	}
	age := max(now.Sub(time.UnixMilli(ms)), 0)
	ageSec := uint32(min(age/time.Second, 1<<31))
	var n [4]byte
	for {
		if _, err := io.ReadFull(r, n[:]); err == io.EOF {
			break
		} else if err != nil {
			return nil, 0, errors.New("truncated message length")
		}
		size := binary.BigEndian.Uint32(n[:])
		if size > ipvssync.MaxMaxLen {
			return nil, 0, fmt.Errorf("message of %d bytes: longer than a sync message", size)
		}
		msg := make([]byte, size)
		if _, err := io.ReadFull(r, msg); err != nil {
			return nil, 0, errors.New("truncated message")
		}
		m, err := ipvssync.Decode(msg)
		if err != nil {
			return nil, 0, err
		}
		for _, en := range m.Entries {
			if en.Timeout <= ageSec {
				expired++
				continue
			}
			en.Timeout -= ageSec
			entries = append(entries, en)
		}
	}
	return entries, expired, nil
}

// saveState writes the engine's connection table to path (atomically).
func saveState(path string, he handoverEngine, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	entries := he.Handover(ctx)
	data, err := encodeState(entries, time.Now())
	if err == nil {
		err = os.MkdirAll(filepath.Dir(path), 0o755)
	}
	if err == nil {
		err = tomlfile.WriteFileAtomic(path, data, 0o600)
	}
	if err != nil {
		log.Error("state file: connections not saved", "path", path, "err", err)
		return
	}
	log.Info("state file: connections saved for the next ulvsd", "path", path, "entries", len(entries))
}

// loadState puts the connections of the state file at path back into the
// engine's tables and removes the file. A missing file is no error.
func loadState(path string, he handoverEngine, log *slog.Logger) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err == nil {
		// Read once: a file left behind must not come back later.
		err = os.Remove(path)
	}
	if err != nil {
		log.Error("state file: not read", "path", path, "err", err)
		return
	}
	entries, expired, err := decodeState(data, time.Now())
	if err != nil {
		log.Error("state file: not a ulvs state file, ignored", "path", path, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := he.TakeOver(ctx, entries)
	if err != nil {
		log.Error("state file: connections not all restored", "path", path, "err", err)
	}
	log.Info("state file: connections restored", "path", path, "created", st.Created, "templates", st.Templates,
		"expired", expired, "no_service", st.NoService, "no_dest", st.NoDest, "failed", st.Failed+st.Dropped)
}
