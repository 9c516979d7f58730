package ctl

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ulvs/ulvs/config"
)

// Client talks to ulvsd over its control socket. Safe for concurrent use;
// requests are serialized.
type Client struct {
	mu   sync.Mutex
	conn net.Conn
	dec  *json.Decoder
	enc  *json.Encoder
}

// DialTimeout bounds connecting to the socket and each request.
const DialTimeout = 10 * time.Second

// Dial connects to the daemon's socket at path.
func Dial(path string) (*Client, error) {
	c, err := net.DialTimeout("unix", path, DialTimeout)
	if err != nil {
		return nil, err
	}
	return &Client{conn: c, dec: json.NewDecoder(bufio.NewReader(c)), enc: json.NewEncoder(c)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) roundTrip(req request) (response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.SetDeadline(time.Now().Add(DialTimeout))
	if err := c.enc.Encode(req); err != nil {
		return response{}, fmt.Errorf("ctl: send %s: %w", req.Op, err)
	}
	var resp response
	if err := c.dec.Decode(&resp); err != nil {
		return response{}, fmt.Errorf("ctl: receive %s: %w", req.Op, err)
	}
	if resp.Error != nil {
		return resp, &RemoteError{Code: resp.Error.Code, Message: resp.Error.Message}
	}
	return resp, nil
}

// Info returns the daemon's IPVS version and connection table size. ulvsadm
// calls it first, as ipvsadm calls ipvs_init.
func (c *Client) Info() (Info, error) {
	resp, err := c.roundTrip(request{Op: "info"})
	if err != nil {
		return Info{}, err
	}
	if resp.Info == nil {
		return Info{}, errors.New("ctl: info: empty response")
	}
	return *resp.Info, nil
}

// Apply asks the daemon to perform cmd. A daemon-side error comes back as a
// *RemoteError that unwraps to the same sentinel (config.ErrNoService, ...).
func (c *Client) Apply(cmd config.Command) error {
	_, err := c.roundTrip(request{Op: "apply", Command: &cmd})
	return err
}

// Snapshot returns the daemon's live table.
func (c *Client) Snapshot() (Snapshot, error) {
	resp, err := c.roundTrip(request{Op: "snapshot"})
	if err != nil {
		return Snapshot{}, err
	}
	if resp.Snapshot == nil {
		return Snapshot{}, errors.New("ctl: snapshot: empty response")
	}
	return *resp.Snapshot, nil
}

// Conns returns the daemon's connections (empty if it cannot list them).
func (c *Client) Conns() ([]ConnStatus, error) {
	resp, err := c.roundTrip(request{Op: "conns"})
	if err != nil {
		return nil, err
	}
	return resp.Conns, nil
}

// SaveConfig asks the daemon to write its live rules to path (absolute),
// or to its own configuration file when path is "", and returns the file
// it wrote. The daemon writes the file, as root, atomically.
func (c *Client) SaveConfig(path string) (string, error) {
	resp, err := c.roundTrip(request{Op: "save-config", Path: path})
	if err != nil {
		return "", err
	}
	return resp.Saved, nil
}

// BGPDrain asks the daemon to withdraw its BGP routes and keep them
// withdrawn (drain true), or to announce again what has quorum (false).
func (c *Client) BGPDrain(drain bool) error {
	_, err := c.roundTrip(request{Op: "bgp-drain", Drain: &drain})
	return err
}
