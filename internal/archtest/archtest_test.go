package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const testModule = "example.com/m"

func TestLayerOf(t *testing.T) {
	tests := []struct {
		rel   string
		level int
		ok    bool
	}{
		{"clock", 0, true},
		{"internal", 0, true},
		{"internal/archtest", 0, true},
		{"engine", 1, true},
		{"rdd", 2, true},
		{"rdd/internal/x", 2, true},
		{"connector", 2, true},
		{"connector/kafka", 3, true},
		{"connector/file/csv", 3, true},
		{"exec", 4, true},
		{"dataframe", 5, true},
		{"cmd/spate", 6, true},
		{"examples/wordcount", 7, true},
		{"bench", 7, true},
		{"rddx", 0, false},
		{"connectors", 0, false},
		{"execute", 0, false},
		{".", 0, false},
	}
	for _, tt := range tests {
		level, ok := layerOf(tt.rel)
		if level != tt.level || ok != tt.ok {
			t.Errorf("layerOf(%q) = %d, %v; want %d, %v", tt.rel, level, ok, tt.level, tt.ok)
		}
	}
}

func TestViolations(t *testing.T) {
	m := func(rel string) string { return testModule + "/" + rel }
	tests := []struct {
		name string
		pkgs []pkgInfo
		want []string // substrings, one per expected message, in sorted order
	}{
		{
			name: "downward edge",
			pkgs: []pkgInfo{{ImportPath: m("rdd"), Imports: []string{m("engine"), m("clock"), "fmt"}}},
		},
		{
			name: "same layer",
			pkgs: []pkgInfo{{ImportPath: m("dstream"), Imports: []string{m("connector/kafka"), m("plan")}}},
		},
		{
			name: "upward edge",
			pkgs: []pkgInfo{{ImportPath: m("engine"), Imports: []string{m("rdd")}}},
			want: []string{"engine (L1) imports rdd (L2): a package may import only packages on its own or a lower layer (DESIGN.md)"},
		},
		{
			name: "upward edge in tests",
			pkgs: []pkgInfo{{ImportPath: m("engine"), TestImports: []string{m("rdd")}}},
			want: []string{"engine (L1) imports rdd (L2) in its _test.go files: a package"},
		},
		{
			name: "upward edge in external test",
			pkgs: []pkgInfo{{ImportPath: m("metrics"), XTestImports: []string{m("metrics"), m("engine")}}},
			want: []string{"metrics (L0) imports engine (L1) in its external test package"},
		},
		{
			name: "unknown importer",
			pkgs: []pkgInfo{{ImportPath: m("widgets"), Imports: []string{m("clock")}}},
			want: []string{"package widgets matches no entry of the layer table: add it to the table in internal/archtest"},
		},
		{
			name: "unknown import reported once",
			pkgs: []pkgInfo{
				{ImportPath: m("engine"), Imports: []string{m("widgets")}},
				{ImportPath: m("rdd"), Imports: []string{m("widgets")}},
			},
			want: []string{"package widgets matches no entry"},
		},
		{
			name: "segment prefix",
			pkgs: []pkgInfo{{ImportPath: m("rddx"), Imports: []string{m("rdd")}}},
			want: []string{"package rddx matches no entry"},
		},
		{
			name: "ui imports engine",
			pkgs: []pkgInfo{{ImportPath: m("ui"), Imports: []string{m("engine"), m("metrics"), m("internal/atomicfile")}}},
			want: []string{"ui (L6) imports engine (L1): ui may import only metrics"},
		},
		{
			name: "ui imports clock in tests",
			pkgs: []pkgInfo{{ImportPath: m("ui/api"), Imports: []string{m("ui")}, TestImports: []string{m("clock")}}},
			want: []string{"ui/api (L6) imports clock (L0) in its _test.go files: ui may import only metrics"},
		},
		{
			name: "ui external test may import lower layers",
			pkgs: []pkgInfo{{ImportPath: m("ui"), XTestImports: []string{m("ui"), m("engine"), m("rdd")}}},
		},
		{
			name: "connector/kafka imports engine",
			pkgs: []pkgInfo{{ImportPath: m("connector/kafka"), Imports: []string{m("connector"), m("engine")}}},
			want: []string{"connector/kafka (L3) imports engine (L1): connector sub-packages"},
		},
		{
			name: "connector/kafka imports dstream",
			pkgs: []pkgInfo{{ImportPath: m("connector/kafka"), Imports: []string{m("dstream/internal/x")}}},
			want: []string{"connector/kafka (L3) imports dstream/internal/x (L3): connector sub-packages"},
		},
		{
			name: "connector itself may import engine",
			pkgs: []pkgInfo{{ImportPath: m("connector"), Imports: []string{m("engine")}}},
		},
		{
			name: "connector/kafka imports rddx is unknown, not denied",
			pkgs: []pkgInfo{{ImportPath: m("connector/kafka"), Imports: []string{m("rddx")}}},
			want: []string{"package rddx matches no entry"},
		},
		{
			name: "examples and bench are unrestricted",
			pkgs: []pkgInfo{
				{ImportPath: m("examples/wordcount"), Imports: []string{m("dataframe"), m("ui"), m("bench/gen")}},
				{ImportPath: m("bench"), TestImports: []string{m("examples/wordcount")}},
			},
		},
		{
			name: "nothing imports examples",
			pkgs: []pkgInfo{{ImportPath: m("cmd/spate"), Imports: []string{m("examples/demo")}}},
			want: []string{"cmd/spate (L6) imports examples/demo (L7)"},
		},
		{
			name: "packages outside the module are ignored",
			pkgs: []pkgInfo{
				{ImportPath: "example.com/other", Imports: []string{m("dataframe")}},
				{ImportPath: m("clock"), Imports: []string{"example.com/mx/ui", "github.com/twmb/franz-go/pkg/kgo"}},
			},
		},
		{
			name: "module root package is unknown",
			pkgs: []pkgInfo{{ImportPath: testModule}},
			want: []string{"package . matches no entry"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := violations(testModule, tt.pkgs)
			ok := len(got) == len(tt.want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.Contains(got[i], tt.want[i])
			}
			if !ok {
				t.Errorf("violations:\n  got  %q\n  want messages containing %q", got, tt.want)
			}
		})
	}
}

// TestModuleRespectsLayers checks the real import graph of the module.
func TestModuleRespectsLayers(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found in PATH (%v); cannot list the module's packages", err)
	}
	root, module := moduleRoot(t)

	var stderr bytes.Buffer
	cmd := exec.Command(goBin, "list", "-e",
		"-json=ImportPath,Imports,TestImports,XTestImports", "./...")
	cmd.Dir = root
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v\n%s", root, err, stderr.Bytes())
	}
	var pkgs []pkgInfo
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p pkgInfo
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	self := module + "/internal/archtest"
	if !slices.ContainsFunc(pkgs, func(p pkgInfo) bool { return p.ImportPath == self }) {
		t.Fatalf("go list ./... in %s did not list %s; got %d packages", root, self, len(pkgs))
	}
	t.Logf("checked %d packages of %s", len(pkgs), module)
	for _, v := range violations(module, pkgs) {
		t.Error(v)
	}
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod and returns it with the module path declared there.
func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			s := bufio.NewScanner(f)
			for s.Scan() {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module"); ok {
					module = strings.Trim(strings.TrimSpace(rest), `"`)
					if i := strings.Index(module, "//"); i >= 0 {
						module = strings.TrimSpace(module[:i])
					}
					if module != "" {
						return dir, module
					}
				}
			}
			t.Fatalf("%s: no module line (%v)", f.Name(), s.Err())
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod found above the test's working directory")
		}
		dir = parent
	}
}
