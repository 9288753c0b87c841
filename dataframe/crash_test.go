package dataframe_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/connector/file"
	. "github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/streaming"
)

// The Structured Streaming crash test: a query reading JSON files,
// counting words per 10 s event-time window (append mode, 2 s watermark
// delay) and writing JSON files, run in a subprocess (this test binary)
// that is killed with SIGKILL at random moments and restarted from its
// checkpoint. The committed output must hold every finished window
// exactly once, with the counts a batch computation gives.

var (
	ssCrashKills = flag.Int("sscrash.kills", 20, "how many times TestStructuredCrashRecovery kills the query")
	ssCrashSeed  = flag.Uint64("sscrash.seed", 1, "seed of TestStructuredCrashRecovery's kill moments and input")
)

const ssCrashEnv = "SPATE_SS_CRASH_DIR"

var ssCrashBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestStructuredCrashChild(t *testing.T) {
	base := os.Getenv(ssCrashEnv)
	if base == "" {
		t.Skip("the subprocess of TestStructuredCrashRecovery")
	}
	if err := runStructuredChild(base); err != nil {
		fmt.Fprintln(os.Stderr, "structured crash child:", err)
		os.Exit(3)
	}
}

func runStructuredChild(base string) error {
	ec, err := engine.New(engine.Slots(2))
	if err != nil {
		return err
	}
	s, err := NewSession(ec)
	if err != nil {
		return err
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: expr.TimestampType}, {Name: "word", Type: arrow.BinaryTypes.String}}, nil)
	counts := s.ReadStream().Format("json").Schema(schema).Option("maxFilesPerTrigger", "2").Load(filepath.Join(base, "in")).
		WithWatermark("ts", 2*time.Second).
		GroupBy(Window(Col("ts"), 10*time.Second), Col("word")).Count()
	q, err := counts.WriteStream().Format("json").Option("path", filepath.Join(base, "out")).
		Option("checkpointLocation", filepath.Join(base, "ckpt")).OutputMode("append").
		Trigger(streaming.ProcessingTime(50 * time.Millisecond)).Start(context.Background())
	if err != nil {
		return err
	}
	return q.AwaitTermination(context.Background())
}

type ssWindow struct {
	start time.Time
	word  string
}

func TestStructuredCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a subprocess many times; skipped with -short")
	}
	base := t.TempDir()
	in := filepath.Join(base, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(*ssCrashSeed, 11))
	words := []string{"ant", "bee", "cat"}
	want := map[ssWindow]int64{}
	eventTime := time.Duration(0)
	files := 0
	addFile := func(rows int) {
		var b strings.Builder
		for range rows {
			eventTime += time.Duration(1+rng.IntN(2)) * time.Millisecond
			w := words[rng.IntN(len(words))]
			ts := ssCrashBase.Add(eventTime)
			fmt.Fprintf(&b, `{"ts":%q,"word":%q}`+"\n", ts.Format(time.RFC3339Nano), w)
			want[ssWindow{ts.Truncate(10 * time.Second), w}]++
		}
		name := fmt.Sprintf("part-%04d.json", files)
		files++
		tmp := filepath.Join(base, "."+name)
		if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(in, name)); err != nil {
			t.Fatal(err)
		}
	}
	start := func() (*exec.Cmd, *strings.Builder) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStructuredCrashChild$")
		cmd.Env = append(os.Environ(), ssCrashEnv+"="+base)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	kills, reruns := 0, 0
	for kills < *ssCrashKills {
		cmd, stderr := start()
		for range 1 + rng.IntN(3) {
			addFile(20000 + rng.IntN(20000)) // batches long enough for kills to land inside them
		}
		time.Sleep(time.Duration(30+rng.IntN(400)) * time.Millisecond) // the kill moment: random, the point of the test
		cmd.Process.Kill()
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
			t.Fatalf("run %d ended before it was killed: %v\n%s", kills+1, err, stderr)
		}
		reruns += strings.Count(stderr.String(), "re-running the last batch")
		kills++
	}
	// The last run: a row far ahead moves the watermark past every window
	// before it; those windows must all be written.
	last := eventTime
	eventTime += time.Minute
	addFile(1)
	var flushWindow ssWindow
	for k := range want {
		if k.start.After(ssCrashBase.Add(last)) {
			flushWindow = k
		}
	}
	delete(want, flushWindow)
	cmd, stderr := start()
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var got map[ssWindow]int64
	var dups []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, dups = readStructuredOutput(t, filepath.Join(base, "out"))
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling the subprocess's output, with a deadline
	}
	if len(dups) > 0 {
		t.Errorf("windows written more than once: %v", dups)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("window %v %s: output %d, want %d", k.start.Format("15:04:05"), k.word, got[k], n)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected window %v %s in the output", k.start.Format("15:04:05"), k.word)
		}
	}
	if t.Failed() {
		var listing []string
		filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				listing = append(listing, strings.TrimPrefix(p, base))
			}
			return nil
		})
		t.Logf("last run's stderr:\n%s\nfiles:\n%s", stderr, strings.Join(listing, "\n"))
	}
	t.Logf("survived %d SIGKILLs (%d restarts re-ran a batch killed after its offsets were logged); %d files, %d windows checked", kills, reruns, files, len(want))
}

// readStructuredOutput reads the committed rows of the sink: count per
// (window, word), and the keys seen more than once.
func readStructuredOutput(t *testing.T, dir string) (map[ssWindow]int64, []string) {
	t.Helper()
	got := map[ssWindow]int64{}
	var dups []string
	files, err := file.CommittedFiles(dir)
	if err != nil {
		return got, nil // no batch committed yet
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var row struct {
				Start string `json:"window_start"`
				Word  string `json:"word"`
				Count int64  `json:"count"`
			}
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatalf("%s: %q: %v", f, sc.Text(), err)
			}
			ts, err := time.Parse(time.RFC3339Nano, row.Start)
			if err != nil {
				ts, err = time.Parse("2006-01-02 15:04:05.999999", row.Start)
				if err != nil {
					t.Fatalf("%s: window_start %q: %v", f, row.Start, err)
				}
			}
			k := ssWindow{ts.UTC(), row.Word}
			if _, seen := got[k]; seen {
				dups = append(dups, fmt.Sprintf("%s %s", ts.Format("15:04:05"), row.Word))
			}
			got[k] += row.Count
		}
		fh.Close()
	}
	return got, dups
}
