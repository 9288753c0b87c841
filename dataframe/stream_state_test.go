package dataframe_test

import (
	"errors"
	"strings"
	"testing"

	. "github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/state"
)

// TestWriteStreamStateOptions: numStatePartitions and stateSnapshotInterval
// are validated, and the number of state partitions is fixed at the first
// run from a checkpoint location.
func TestWriteStreamStateOptions(t *testing.T) {
	s, _ := streamSession(t)
	ctx := streamCtx(t)
	counts := func() *DataFrame {
		return s.ReadStream().Format("rate").Option("rowsPerSecond", "10").Load().
			GroupBy(Col("value").Mod(3).As("k")).Count()
	}
	for _, tc := range []struct{ k, v, want string }{
		{"numStatePartitions", "0", "option numStatePartitions must be a positive integer"},
		{"numStatePartitions", "two", "option numStatePartitions must be a positive integer"},
		{"stateSnapshotInterval", "-1", "option stateSnapshotInterval must be a positive integer"},
	} {
		_, err := counts().WriteStream().OutputMode("complete").Format("memory").QueryName("c").Option(tc.k, tc.v).Start(ctx)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Option(%q, %q): %v, want %q", tc.k, tc.v, err, tc.want)
		}
	}
	dir := t.TempDir()
	q, err := counts().WriteStream().OutputMode("complete").Format("memory").QueryName("c").
		Option("checkpointLocation", dir).Option("numStatePartitions", "3").Option("stateSnapshotInterval", "5").Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = counts().WriteStream().OutputMode("complete").Format("memory").QueryName("c").
		Option("checkpointLocation", dir).Option("numStatePartitions", "8").Start(ctx)
	var pm *state.PartitionCountMismatchError
	if !errors.As(err, &pm) || pm.Recorded != 3 || pm.Requested != 8 {
		t.Fatalf("restart with numStatePartitions 8: %v", err)
	}
}
