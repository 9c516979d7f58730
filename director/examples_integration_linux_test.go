package director_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntegrationExampleScripts runs examples/lab/*.sh, the seeds'
// workflows replayed with ulvs commands, as a user would: each must end
// with the curl loop's answers alternating.
func TestIntegrationExampleScripts(t *testing.T) {
	skipUnprivileged(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash")
	}
	for _, script := range []string{"dr.sh", "nat.sh", "tun.sh", "fullnat.sh"} {
		t.Run(script, func(t *testing.T) {
			cmd := exec.Command("bash", filepath.Join("examples", "lab", script))
			cmd.Dir = ".."
			cmd.Env = append(os.Environ(), "ULVS="+filepath.Join(binDir, "ulvs"))
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "ok: the answers alternate between rs1 and rs2") {
				t.Errorf("%s: %v\n%s", script, err, out)
			}
		})
	}
}
