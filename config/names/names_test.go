package names

import "testing"

func TestServices(t *testing.T) {
	s := ParseServices([]byte("# c\nhttp 80/tcp www # web\nhttp 80/udp\nbad line\nx 99999/tcp\ndup 1/tcp\ndup 2/tcp\n"))
	for _, tt := range []struct {
		name, proto string
		port        uint16
		ok          bool
	}{
		{"http", "tcp", 80, true}, {"www", "tcp", 80, true}, {"http", "udp", 80, true},
		{"www", "udp", 0, false}, {"x", "tcp", 0, false}, {"dup", "tcp", 1, true}, {"bad", "tcp", 0, false},
	} {
		p, err := s.Lookup(tt.name, tt.proto)
		if p != tt.port || (err == nil) != tt.ok {
			t.Errorf("Lookup(%s, %s) = %d, %v; want %d, ok %v", tt.name, tt.proto, p, err, tt.port, tt.ok)
		}
	}
	var zero *Services
	if _, err := zero.Lookup("http", "tcp"); err == nil {
		t.Error("nil Services found a port")
	}
}
