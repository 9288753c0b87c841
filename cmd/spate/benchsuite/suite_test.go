package benchsuite

import (
	"context"
	"testing"
	"time"
)

// testParams are small runs: a few batches per query.
func testParams() Params {
	return Params{Events: 60_000, BatchEvents: 7_000, Partitions: 3, Slots: 2, EventRate: 2_000}
}

func TestQueriesMatchBaselines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, q := range Queries() {
		t.Run(q.Name, func(t *testing.T) {
			p := testParams()
			p.CheckpointDir = t.TempDir()
			ms, err := Run(ctx, []Query{q}, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != 2 {
				t.Fatalf("got %d measurements, want 2: %+v", len(ms), ms)
			}
			ds, hand := ms[0], ms[1]
			if ds.Status != "ok" || hand.Status != "ok" {
				t.Fatalf("dstream %s (%s), handloop %s (%s)", ds.Status, ds.Error, hand.Status, hand.Error)
			}
			if ds.Events != p.Events || hand.Events != p.Events {
				t.Errorf("events: dstream %d, handloop %d, want %d", ds.Events, hand.Events, p.Events)
			}
			if ds.Result != hand.Result || ds.Result.Rows == 0 {
				t.Errorf("dstream %v, handloop %v", ds.Result, hand.Result)
			}
			t.Logf("%s: %v", q.ID(), ds.Result)
		})
	}
}
