package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/sql"
)

// copyExamples copies examples/sql (pipelines and data) to a temporary
// directory, where the pipelines write their output.
func copyExamples(t *testing.T) string {
	t.Helper()
	if _, err := sql.ParseScript("SELECT 1"); errors.Is(err, sql.ErrNoCgo) {
		if os.Getenv("SPATE_INTEGRATION") != "" {
			t.Fatal("SQL needs cgo (a C compiler), and SPATE_INTEGRATION is set")
		}
		t.Skip("SQL needs a build with cgo (CGO_ENABLED=1 and a C compiler)")
	}
	dst := t.TempDir()
	src := filepath.Join("..", "..", "examples", "sql")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "out" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestRunExamples runs every example pipeline with --available-now, as CI
// does, and checks their output.
func TestRunExamples(t *testing.T) {
	dir := copyExamples(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.sql"))
	if len(files) < 3 {
		t.Fatalf("example pipelines: %v", files)
	}
	outputs := map[string]string{}
	for _, f := range files {
		code, out, stderr := runCLI(t, testCtx(t), "run", "--no-ui", "--available-now", f)
		if code != exitOK {
			t.Fatalf("%s: exit code %d\nstdout:\n%s\nstderr:\n%s", filepath.Base(f), code, out, stderr)
		}
		outputs[filepath.Base(f)] = out
	}
	// device_etl: the strong readings of the three files, in Parquet.
	ec, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	s, _ := dataframe.NewSession(ec)
	n, err := s.Read().Format("parquet").Load(filepath.Join(dir, "out", "strong_readings")).Count(testCtx(t))
	if err != nil || n != 83 {
		t.Errorf("strong readings: %d rows (%v), want 83", n, err)
	}
	if out := outputs["device_etl.sql"]; strings.Count(out, "query strong_readings batch") != 3 {
		t.Errorf("device_etl printed:\n%s", out)
	}
	if out := outputs["hashtags.sql"]; !strings.Contains(out, "|       #go| 26|") {
		t.Errorf("hashtags printed:\n%s", out)
	}
	if out := outputs["device_windows.sql"]; !strings.Contains(out, "|2026-01-01 12:00:00|") || !strings.Contains(out, "watermark 2026-01-01T12:") {
		t.Errorf("device_windows printed:\n%s", out)
	}
	// A second run resumes from the checkpoint: nothing new to write.
	code, out, _ := runCLI(t, testCtx(t), "run", "--no-ui", "--available-now", filepath.Join(dir, "device_etl.sql"))
	if code != exitOK || strings.Contains(out, "batch") {
		t.Errorf("a second run wrote again (exit %d):\n%s", code, out)
	}
}

func TestRunErrors(t *testing.T) {
	dir := copyExamples(t)
	bad := filepath.Join(dir, "bad.sql")
	for _, tc := range []struct{ script, want string }{
		{"CREATE SOURCE s WITH (format = 'rate');\nINSERT INTO nowhere SELECT * FROM s;", "INSERT INTO nowhere: no such sink"},
		{"CREATE SOURCE s WITH (path = 'x');", "the format option is required"},
		{"CREATE SOURCE s WITH (format = 'rate');\nCREATE SINK k WITH (format = 'console');\nINSERT INTO k SELECT sigal FROM s;", `bad.sql:3:1: INSERT INTO k`},
		{"CREATE SINK k WITH (format = 'console', trigger = 'often');\nCREATE SOURCE s WITH (format = 'rate');\nINSERT INTO k SELECT * FROM s;", `trigger "often"`},
	} {
		if err := os.WriteFile(bad, []byte(tc.script), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLI(t, testCtx(t), "run", "--no-ui", "--once", bad)
		if code != exitFailure || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.script, code, stderr, tc.want)
		}
	}
	if code, _, _ := runCLI(t, testCtx(t), "run"); code != exitUsage {
		t.Errorf("run without a file: exit %d", code)
	}
}
