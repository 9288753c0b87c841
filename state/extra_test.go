package state

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/checkpoint"
	"github.com/spate-io/spate/clock"
)

// steppingClock advances by one millisecond on every reading, so that
// every measured duration is positive and deterministic enough to check.
type steppingClock struct {
	*clock.Manual
	mu sync.Mutex
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Manual.Advance(time.Millisecond)
	return c.Manual.Now()
}

func (c *steppingClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func TestDurations(t *testing.T) {
	ctx := testCtx(t)
	root := t.TempDir()
	clk := &steppingClock{Manual: clock.NewManual(time.Unix(0, 0))}
	p := newProvider(t, root, 1, WithClock(clk), SnapshotInterval(1))
	pt := partition(t, p, "op", 0)
	randomHistory(t, ctx, pt, rand.New(rand.NewPCG(1, 2)), 2, 10)
	if err := pt.WaitSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	m := pt.Metrics()
	if m.CommitDuration <= 0 || m.SnapshotDuration <= 0 || m.LoadDuration <= 0 || m.SnapshotBytes == 0 {
		t.Fatalf("metrics %+v: want positive durations and a snapshot size", m)
	}
}

func TestLeftoverTemporaryFiles(t *testing.T) {
	ctx := testCtx(t)
	root := t.TempDir()
	p := newProvider(t, root, 1)
	pt := partition(t, p, "op", 0)
	history := randomHistory(t, ctx, pt, rand.New(rand.NewPCG(3, 4)), 3, 10)
	// A crash in the middle of writing version 4 leaves a temporary file.
	tmp := filepath.Join(pt.Dir(), "."+checkpoint.FileName(seriesDelta, 4)+".tmp-0123456789abcdef")
	if err := os.WriteFile(tmp, []byte("SPATECKP partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	pt2 := partition(t, newProvider(t, root, 1), "op", 0)
	s, err := pt2.Load(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkStore(t, s, history[3])
	if _, err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pt2.Load(ctx, 4); err != nil {
		t.Fatal(err)
	}
}

func TestFileOfNewerFormat(t *testing.T) {
	ctx := testCtx(t)
	root := t.TempDir()
	p := newProvider(t, root, 1)
	pt := partition(t, p, "op", 0)
	randomHistory(t, ctx, pt, rand.New(rand.NewPCG(5, 6)), 2, 10)
	path := filepath.Join(pt.Dir(), checkpoint.FileName(seriesDelta, 2))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint16(data[len(checkpoint.Magic):], checkpoint.Version+1)
	os.WriteFile(path, data, 0o644)
	_, err = partition(t, newProvider(t, root, 1), "op", 0).Load(ctx, 2)
	var fe *FileError
	if !errors.As(err, &fe) || !errors.Is(err, checkpoint.ErrUnsupportedVersion) || fe.Version != 2 {
		t.Fatalf("Load of a file of a newer format = %v; want a FileError wrapping checkpoint.ErrUnsupportedVersion", err)
	}
}
