package director

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config"
)

// TestNewWebConsoleRefusals: a console that cannot work stops ulvsd at
// start with the reason.
func TestNewWebConsoleRefusals(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "web.passwd")
	os.WriteFile(users, []byte("admin:admin:$2a$04$0123456789012345678901uQ6Ud1C8HPSv4pYhnPD8GWS5Z3gL.Wa\n"), 0o600)
	sv := &saver{Director: &Director{}, log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		name string
		web  config.Web
		want string
	}{
		{"bad address", config.Web{Listen: "localhost:http", Users: users}, "web console address"},
		{"cert without key", config.Web{Listen: "127.0.0.1:1", Cert: "/x.crt", Users: users}, "cert and key go together"},
		{"missing cert", config.Web{Listen: "127.0.0.1:1", Cert: filepath.Join(dir, "no.crt"), Key: filepath.Join(dir, "no.key"), Users: users}, "TLS"},
		{"no users", config.Web{Listen: "127.0.0.1:1", Users: filepath.Join(dir, "none")}, "ulvs passwd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newWebConsole(tc.web, sv, "", slog.New(slog.DiscardHandler))
			if err == nil {
				c.ln.Close()
				t.Fatalf("accepted, want an error with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
		})
	}
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	c, err := newWebConsole(config.Web{Listen: addr, Users: users}, sv, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("a good console: %v", err)
	}
	c.ln.Close()
}
