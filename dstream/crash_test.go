package dstream_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/rdd"
)

// The crash test runs a streaming program in a subprocess (this test
// binary, re-executed with crashChildEnv set), kills it with SIGKILL at
// random moments, restarts it each time with GetOrCreate, and checks that
// no output was lost or duplicated.

var (
	crashKills = flag.Int("crash.kills", 20, "how many times TestCrashRecovery kills the program")
	crashSeed  = flag.Uint64("crash.seed", 1, "seed of TestCrashRecovery's kill moments and input")
)

const (
	crashChildEnv   = "SPATE_CRASH_CHILD_DIR"
	crashAddrEnv    = "SPATE_CRASH_ADDR"
	crashInterval   = 100 * time.Millisecond
	crashWindow     = 500 * time.Millisecond
	crashCheckpoint = 500 * time.Millisecond
	crashWords      = "a b c d e f g h"
)

// TestCrashChild is the program under test; it runs only as the
// subprocess of TestCrashRecovery.
func TestCrashChild(t *testing.T) {
	base := os.Getenv(crashChildEnv)
	if base == "" {
		t.Skip("the subprocess of TestCrashRecovery")
	}
	if err := runCrashChild(base, os.Getenv(crashAddrEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
}

func runCrashChild(base, addr string) error {
	ec, err := engine.New(engine.Slots(2))
	if err != nil {
		return err
	}
	out := filepath.Join(base, "out")
	create := func() (*dstream.StreamingContext, error) {
		ssc, err := dstream.NewStreamingContext(ec, crashInterval, dstream.WriteAheadLog(true),
			dstream.BlockInterval(50*time.Millisecond), dstream.ReceiverRestartDelay(50*time.Millisecond))
		if err != nil {
			return nil, err
		}
		// Files: running totals and a windowed count.
		lines := dstream.TextFileStream(ssc, filepath.Join(base, "in")).Name("files")
		pairs := dstream.Map(dstream.FlatMap(lines, strings.Fields), func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
		totals := dstream.UpdateStateByKey(pairs, func(vs []int, s int, _ bool) (int, bool) {
			for _, v := range vs {
				s += v
			}
			return s, true
		}).Name("totals").Checkpoint(crashCheckpoint)
		windows := dstream.ReduceByKeyAndWindowInv(pairs, func(a, b int) int { return a + b }, func(a, b int) int { return a - b },
			crashWindow, crashInterval).Name("window").Checkpoint(crashCheckpoint)
		// The socket: at-least-once from the source (it resends what was
		// not acknowledged), made exactly-once by dropping sequence
		// numbers already seen.
		recs := dstream.ReceiverStream[string](ssc, &ackReceiver{addr: addr}).Name("socket")
		bySeq := dstream.Map(recs, func(line string) rdd.Pair[int, string] {
			seq, word, _ := strings.Cut(line, " ")
			n, _ := strconv.Atoi(seq)
			return rdd.KV(n, word)
		})
		fresh := dstream.MapWithState(bySeq, dstream.StateSpec[int, string, bool, string]{
			Func: func(_ time.Time, _ int, word string, st *dstream.State[bool]) string {
				if st.Exists() {
					return ""
				}
				st.Update(true)
				return word
			},
		})
		fresh.Name("dedup").Checkpoint(crashCheckpoint)
		socketTotals := dstream.CountByValue(fresh.Filter(func(w string) bool { return w != "" }))
		socketRunning := dstream.UpdateStateByKey(socketTotals, func(vs []int, s int, _ bool) (int, bool) {
			for _, v := range vs {
				s += v
			}
			return s, true
		}).Name("socketTotals").Checkpoint(crashCheckpoint)
		for _, err := range []error{
			totals.SaveAsTextFiles(filepath.Join(out, "totals"), ""),
			windows.SaveAsTextFiles(filepath.Join(out, "window"), ""),
			socketRunning.SaveAsTextFiles(filepath.Join(out, "socket"), ""),
		} {
			if err != nil {
				return nil, err
			}
		}
		return ssc, nil
	}
	ssc, err := dstream.GetOrCreate(filepath.Join(base, "ckpt"), create)
	if err != nil {
		return err
	}
	if err := ssc.Start(); err != nil {
		return err
	}
	return ssc.AwaitTermination(context.Background())
}

// ackReceiver reads "seq word" lines from addr, stores them reliably and
// acknowledges the last sequence number stored.
type ackReceiver struct {
	addr string
	wg   sync.WaitGroup
	conn net.Conn
	mu   sync.Mutex
}

func (r *ackReceiver) OnStart(h *dstream.ReceiverHandle[string]) error {
	conn, err := net.Dial("tcp", r.addr)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.conn = conn
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		br := bufio.NewReader(conn)
		var chunk []string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				h.Restart("connection closed", err)
				return
			}
			chunk = append(chunk, strings.TrimSuffix(line, "\n"))
			if br.Buffered() > 0 && len(chunk) < 100 {
				continue // store what has arrived in one piece
			}
			if err := h.StoreReliably(chunk); err != nil {
				return
			}
			seq, _, _ := strings.Cut(chunk[len(chunk)-1], " ")
			if _, err := fmt.Fprintf(conn, "ack %s\n", seq); err != nil {
				h.Restart("ack failed", err)
				return
			}
			chunk = chunk[:0]
		}
	}()
	return nil
}

func (r *ackReceiver) OnStop() {
	r.mu.Lock()
	if r.conn != nil {
		r.conn.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// lineServer serves "seq word" lines 1..total to whoever connects,
// starting after the last acknowledged sequence number each time.
type lineServer struct {
	ln    net.Listener
	total int
	words []string

	mu    sync.Mutex
	acked int
}

func (s *lineServer) word(seq int) string { return s.words[seq%len(s.words)] }

func (s *lineServer) serve() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.handle(conn)
	}
}

func (s *lineServer) handle(conn net.Conn) {
	defer conn.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		br := bufio.NewReader(conn)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ack ")))
			if err != nil {
				return
			}
			s.mu.Lock()
			s.acked = max(s.acked, n)
			s.mu.Unlock()
		}
	}()
	s.mu.Lock()
	next := s.acked + 1
	s.mu.Unlock()
	w := bufio.NewWriter(conn)
	for next <= s.total {
		for range 20 {
			if next > s.total {
				break
			}
			fmt.Fprintf(w, "%d %s\n", next, s.word(next))
			next++
		}
		if w.Flush() != nil {
			return
		}
		select {
		case <-done:
			return
		case <-time.After(5 * time.Millisecond): // pacing the source, not synchronisation
		}
	}
	<-done
}

func (s *lineServer) ackedThrough() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// crashFile is one input file: a marker word of its own and common words.
type crashFile struct {
	marker string
	counts map[string]int
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a subprocess many times; skipped with -short")
	}
	base := t.TempDir()
	in, out := filepath.Join(base, "in"), filepath.Join(base, "out")
	for _, d := range []string{in, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	srv := &lineServer{ln: ln, total: 3000, words: strings.Fields("x y z w")}
	go srv.serve()

	rng := rand.New(rand.NewPCG(*crashSeed, 7))
	common := strings.Fields(crashWords)
	var files []crashFile
	addFile := func() {
		i := len(files)
		f := crashFile{marker: fmt.Sprintf("file%03d", i), counts: map[string]int{}}
		var b strings.Builder
		b.WriteString(f.marker)
		for range 1 + rng.IntN(30) {
			w := common[rng.IntN(len(common))]
			f.counts[w]++
			b.WriteString(" " + w)
		}
		b.WriteString("\n")
		staging := filepath.Join(base, "staging-"+f.marker)
		if err := os.WriteFile(staging, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(staging, filepath.Join(in, f.marker+".txt")); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}

	start := func() (*exec.Cmd, *strings.Builder) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+base, crashAddrEnv+"="+ln.Addr().String())
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	kills := 0
	for kills < *crashKills {
		cmd, stderr := start()
		if kills == 0 {
			// Files already in the directory when the program first
			// starts are ignored, so the first file goes in once the
			// first run has written its first metadata checkpoint.
			waitFor(t, 20*time.Second, "the first metadata checkpoint", func() bool {
				m, _ := filepath.Glob(filepath.Join(base, "ckpt", "metadata-*"))
				return len(m) > 0
			})
		}
		for range 1 + rng.IntN(2) {
			addFile()
		}
		// The kill moment: random, which is the point of the test.
		time.Sleep(time.Duration(150+rng.IntN(900)) * time.Millisecond)
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
			t.Fatalf("run %d ended before it was killed: %v\n%s", kills+1, err, stderr)
		}
		kills++
	}

	// The last run goes on until every file and line is in the output.
	cmd, stderr := start()
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	want := map[string]int{}
	for _, f := range files {
		want[f.marker]++
		for w, n := range f.counts {
			want[w] += n
		}
	}
	wantSocket := map[string]int{}
	for seq := 1; seq <= srv.total; seq++ {
		wantSocket[srv.word(seq)]++
	}
	var last, lastSocket map[string]int
	waitFor(t, 60*time.Second, "the final output", func() bool {
		last = latestOutput(t, out, "totals")
		lastSocket = latestOutput(t, out, "socket")
		return mapsEqual(last, want) && mapsEqual(lastSocket, wantSocket)
	})
	if t.Failed() {
		t.Fatalf("final totals = %v\nwant %v\nsocket = %v\nwant %v\nlast run's stderr:\n%s", last, want, lastSocket, wantSocket, stderr)
	}
	// Stop the last run so that no output is written while it is read.
	cmd.Process.Kill()
	cmd.Wait()
	checkCrashOutput(t, out, files)
	t.Logf("survived %d SIGKILLs; %d files, %d socket lines; output checked batch by batch", kills, len(files), srv.total)
}

// waitFor polls cond every 20ms until it holds or d passes (then the test
// fails naming what).
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("timed out after %v waiting for %s", d, what)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outputDirs returns the complete output directories prefix-<ms> in out,
// by batch time in ms, and the sorted times.
func outputDirs(t *testing.T, out, prefix string) (map[int64]string, []int64) {
	t.Helper()
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[int64]string{}
	var times []int64
	for _, e := range entries {
		ms, ok := strings.CutPrefix(e.Name(), prefix+"-")
		if !ok {
			continue // other outputs, and hidden temporary directories
		}
		at, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			t.Fatalf("unexpected output %s", e.Name())
		}
		dir := filepath.Join(out, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "_SUCCESS")); err != nil {
			t.Errorf("output %s is incomplete: %v", dir, err)
		}
		dirs[at] = dir
		times = append(times, at)
	}
	slices.Sort(times)
	return dirs, times
}

// readCounts reads "(word,count)" lines from every part file of dir.
func readCounts(t *testing.T, dir string) map[string]int {
	t.Helper()
	parts, _ := filepath.Glob(filepath.Join(dir, "part-*"))
	m := map[string]int{}
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if line == "" {
				continue
			}
			k, v, ok := strings.Cut(strings.Trim(line, "()"), ",")
			n, err := strconv.Atoi(v)
			if !ok || err != nil {
				t.Fatalf("%s: bad line %q", p, line)
			}
			if _, dup := m[k]; dup {
				t.Errorf("%s: key %s appears twice in one batch's output", dir, k)
			}
			if n != 0 {
				m[k] = n
			}
		}
	}
	return m
}

func latestOutput(t *testing.T, out, prefix string) map[string]int {
	dirs, times := outputDirs(t, out, prefix)
	if len(times) == 0 {
		return nil
	}
	return readCounts(t, dirs[times[len(times)-1]])
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// checkCrashOutput checks every batch's output: the running totals hold
// each file at most once, and whole; the files each batch added follow
// from consecutive totals; each window holds exactly the files of the
// batches in it; socket counts never go down.
func checkCrashOutput(t *testing.T, out string, files []crashFile) {
	t.Helper()
	byMarker := map[string]crashFile{}
	for _, f := range files {
		byMarker[f.marker] = f
	}
	dirs, times := outputDirs(t, out, "totals")
	added := map[int64][]string{} // batch time -> files it added
	var prevFiles []string
	for _, at := range times {
		got := readCounts(t, dirs[at])
		var in []string
		sum := map[string]int{}
		for k, v := range got {
			f, ok := byMarker[k]
			if !ok {
				continue
			}
			if v != 1 {
				t.Errorf("batch %d: file %s counted %d times", at, k, v)
			}
			in = append(in, k)
			sum[k] = 1
			for w, n := range f.counts {
				sum[w] += n
			}
		}
		if !mapsEqual(got, sum) {
			t.Errorf("batch %d: totals %v are not the sum of the files they include (%v)", at, got, sum)
		}
		slices.Sort(in)
		for _, p := range prevFiles {
			if !slices.Contains(in, p) {
				t.Errorf("batch %d: file %s, counted before, is gone", at, p)
			}
		}
		for _, f := range in {
			if !slices.Contains(prevFiles, f) {
				added[at] = append(added[at], f)
			}
		}
		prevFiles = in
	}
	wdirs, wtimes := outputDirs(t, out, "window")
	// Every batch writes its totals, then its window. The last run was
	// killed after the final output, possibly between the two of its last
	// batch; any other batch without its window lost output.
	for i, at := range times {
		if _, ok := wdirs[at]; !ok && i < len(times)-1 {
			t.Errorf("batch %d has its totals but no window output", at)
		}
	}
	for _, at := range wtimes {
		if _, ok := dirs[at]; !ok {
			t.Errorf("batch %d has a window output but no totals", at)
		}
	}
	for _, at := range wtimes {
		want := map[string]int{}
		for _, b := range times {
			if b > at-crashWindow.Milliseconds() && b <= at {
				for _, m := range added[b] {
					want[m]++
					for w, n := range byMarker[m].counts {
						want[w] += n
					}
				}
			}
		}
		if got := readCounts(t, wdirs[at]); !mapsEqual(got, want) {
			t.Errorf("window at %d = %v, want %v", at, got, want)
		}
	}
	sdirs, stimes := outputDirs(t, out, "socket")
	prev := map[string]int{}
	for _, at := range stimes {
		got := readCounts(t, sdirs[at])
		for k, v := range prev {
			if got[k] < v {
				t.Errorf("socket batch %d: count of %s went down from %d to %d", at, k, v, got[k])
			}
		}
		prev = got
	}
}
