package names

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// DefaultServicesFile is where service names are looked up, as
// getservbyname does.
const DefaultServicesFile = "/etc/services"

// Services is a parsed services(5) file: service names and aliases to
// ports, per protocol. The zero value knows no service. Safe for
// concurrent reads.
type Services struct {
	ports map[string]uint16 // "name/proto"
}

// ParseServices reads services(5) text: "name port/proto [aliases...]",
// '#' starting a comment. Lines it cannot read are skipped, as getservent
// skips them.
func ParseServices(data []byte) *Services {
	s := &Services{ports: map[string]uint16{}}
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ps, proto, ok := strings.Cut(f[1], "/")
		n, err := strconv.ParseUint(ps, 10, 16)
		if !ok || err != nil || proto == "" {
			continue
		}
		for _, name := range append([]string{f[0]}, f[2:]...) {
			key := name + "/" + proto
			if _, dup := s.ports[key]; !dup {
				s.ports[key] = uint16(n) // the first entry wins, as in getservbyname
			}
		}
	}
	return s
}

// LoadServices reads a services file.
func LoadServices(path string) (*Services, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseServices(data), nil
}

// Lookup returns the port of a service name (or alias) for proto ("tcp"
// or "udp").
func (s *Services) Lookup(name, proto string) (uint16, error) {
	if s != nil {
		if p, ok := s.ports[name+"/"+proto]; ok {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no service %s/%s in the services file", name, proto)
}
