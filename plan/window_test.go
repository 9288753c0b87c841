package plan_test

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// ExpandWindows makes one branch per window a row can be in, filtering
// the earlier windows to the rows before their end; tumbling windows
// need one projection.
func TestExpandWindows(t *testing.T) {
	in, err := plan.NewLocalRelation(arrow.NewSchema([]arrow.Field{{Name: "ts", Type: expr.TimestampType}, {Name: "k", Type: arrow.BinaryTypes.String}}, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := expr.Col("ts")
	for _, tc := range []struct {
		size, slide time.Duration
		branches    int
	}{
		{10 * time.Second, 10 * time.Second, 1},
		{10 * time.Second, 5 * time.Second, 2},
		{10 * time.Second, 4 * time.Second, 3}, // ceil(10/4)
		{10 * time.Second, time.Second, 10},
	} {
		p, err := plan.ExpandWindows(in, ts, tc.size, tc.slide, "ws", "we")
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Schema().Fields(); len(got) != 4 || got[2].Name != "ws" || got[3].Name != "we" {
			t.Errorf("%v/%v: schema %v, want ts, k, ws, we", tc.size, tc.slide, p.Schema())
		}
		branches := []plan.Node{p}
		if u, ok := p.(*plan.Union); ok {
			branches = u.Inputs
		}
		if len(branches) != tc.branches {
			t.Errorf("%v/%v: %d branches, want %d", tc.size, tc.slide, len(branches), tc.branches)
		}
		for i, b := range branches {
			_, filtered := b.(*plan.Filter)
			if filtered != (i > 0) {
				t.Errorf("%v/%v: branch %d is %s; only the earlier windows' branches filter", tc.size, tc.slide, i, b)
			}
		}
	}
	for _, bad := range [][2]time.Duration{{0, time.Second}, {time.Second, 0}, {-time.Second, time.Second}} {
		if _, err := plan.ExpandWindows(in, ts, bad[0], bad[1], "ws", "we"); err == nil || !strings.Contains(err.Error(), "must be positive") {
			t.Errorf("size %v slide %v: err %v, want one saying they must be positive", bad[0], bad[1], err)
		}
	}
}
