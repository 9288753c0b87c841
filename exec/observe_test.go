package exec

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/plan"
)

// Observe sees every row its child produces and passes them on.
func TestObserve(t *testing.T) {
	var seen atomic.Int64
	obs, err := plan.NewObserve(relation(t, 3000, 3, 10), "rows", func(b arrow.RecordBatch) { seen.Add(b.NumRows()) })
	if err != nil {
		t.Fatal(err)
	}
	out := run(t, obs, Config{})
	if n := strings.Count(out, "\n"); n != 3000 || seen.Load() != 3000 {
		t.Errorf("rows out %d, seen %d; want 3000 and 3000", n, seen.Load())
	}
}
