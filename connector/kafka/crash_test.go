package kafka

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	crashBatches   = 40
	crashPerBatch  = 20
	crashEnvAddrs  = "SPATE_KAFKA_CRASH_ADDRS"
	crashEnvPause  = "SPATE_KAFKA_CRASH_PAUSE"
	crashLinePrefx = "CRASH "
)

func crashBatch(id int64) []Record {
	out := make([]Record, crashPerBatch)
	for i := range out {
		out[i] = Record{Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "b%d-%d", id, i)}
	}
	return out
}

// TestSinkCrashChild is the child process of TestSinkCrashHarness; it does
// nothing unless started by it. It writes batches from the sink's last
// committed id + 1 to crashBatches-1, printing each transaction step, and
// stops forever at the step named by SPATE_KAFKA_CRASH_PAUSE ("step:id").
func TestSinkCrashChild(t *testing.T) {
	addrs := os.Getenv(crashEnvAddrs)
	if addrs == "" {
		t.Skip("child of TestSinkCrashHarness")
	}
	pause := os.Getenv(crashEnvPause)
	say := func(format string, args ...any) { fmt.Printf(crashLinePrefx+format+"\n", args...) }
	s := newSink(t, strings.Split(addrs, ","), Topic("out"), Transactional("crash", 0))
	s.hook = func(step string, id int64) {
		say("%s %d", step, id)
		if pause == fmt.Sprintf("%s:%d", step, id) {
			say("paused")
			select {} // killed here, in the middle of the transaction
		}
	}
	last, _, err := s.LastBatchID(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	say("start after %d", last)
	ctx := testCtx(t)
	for id := max(0, last-1); id < crashBatches; id++ { // re-runs the last committed batch too, as an engine may
		if err := s.AddBatch(ctx, id, crashBatch(id)); err != nil {
			t.Fatal(err)
		}
	}
	say("finished")
}

// TestSinkCrashHarness kills a transactional sink process with SIGKILL 24
// times (half of them paused mid-transaction at a random step, half at the
// moment a random batch begins), restarting it each time from its last
// committed batch, then lets it finish: a read_committed consumer must see
// every record of every batch exactly once.
func TestSinkCrashHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 25 processes")
	}
	addrs := newCluster(t, 2, "out")
	rng := rand.New(rand.NewPCG(42, 7))
	steps := []string{"begun", "produced", "recorded", "committed"}
	kills := 0
	run := func(pause string, killAt string) (finished bool) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSinkCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnvAddrs+"="+strings.Join(addrs, ","), crashEnvPause+"="+pause)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() }) // a hung child fails the test below
		defer timer.Stop()
		sc := bufio.NewScanner(out)
		var lines []string
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), crashLinePrefx)
			if !ok {
				continue
			}
			lines = append(lines, line)
			if line == "finished" {
				finished = true
			}
			if line == "paused" || (killAt != "" && line == killAt) {
				cmd.Process.Kill()
				kills++
				break
			}
		}
		cmd.Wait()
		if !finished && !slices.Contains(lines, "paused") && !slices.Contains(lines, killAt) {
			t.Fatalf("child (pause %q, kill at %q) ended early; its lines: %v", pause, killAt, lines)
		}
		return finished
	}
	next := int64(0) // lowest batch the child will write on its next run
	for i := 0; i < 24; i++ {
		id := next + rng.Int64N(3)
		if id >= crashBatches {
			break
		}
		if i%2 == 0 {
			run(fmt.Sprintf("%s:%d", steps[rng.IntN(len(steps))], id), "")
		} else {
			run("", "begun "+strconv.FormatInt(id, 10))
		}
		next = id
	}
	if !run("", "") {
		t.Fatal("the final run did not finish")
	}
	if kills < 20 {
		t.Fatalf("only %d kills", kills)
	}
	got := readTopic(t, addrs, "out", true)
	var want []string
	for id := range int64(crashBatches) {
		for _, r := range crashBatch(id) {
			want = append(want, string(r.Value))
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("read_committed sees %d records, want %d (each exactly once)", len(got), len(want))
	}
	if plain := kgoReadCommitted(t, addrs, "out", len(want)); !slices.Equal(plain, want) {
		t.Fatalf("franz-go read_committed consumer sees %d records, want %d", len(plain), len(want))
	}
	all := readTopic(t, addrs, "out", false)
	t.Logf("%d kills; read_committed sees %d records, each once; the log holds %d (aborted writes of killed runs included)", kills, len(got), len(all))
}
