package conntrack

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces the dependency rules of the data path (STYLE.md
// section 2): inside ulvs, conntrack imports only vs; it never uses
// reflect or encoding/json.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"github.com/ulvs/ulvs/vs": true}
	forbidden := map[string]bool{"reflect": true, "encoding/json": true, "unsafe": true}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if forbidden[path] {
				t.Errorf("%s imports %s", name, path)
			}
			if strings.HasPrefix(path, "github.com/ulvs/ulvs/") && !allowed[path] {
				t.Errorf("%s imports %s; conntrack may import only vs", name, path)
			}
		}
	}
}
