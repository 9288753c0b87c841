package dataframe_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/connector/file"
	. "github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/streaming"
)

// The file stream source reports its dropped records to the query.
var _ streaming.MalformedCountingSource = (*file.StreamSource)(nil)

var malformedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func writeLines(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStreamingDropMalformedCountsInProgress streams a json directory in
// DROPMALFORMED mode: the good rows reach the sink and each batch's
// progress counts the records it dropped.
func TestStreamingDropMalformedCountsInProgress(t *testing.T) {
	s, _ := streamSession(t)
	ctx := streamCtx(t)
	dir := t.TempDir()
	writeLines(t, dir, "a.json",
		`{"id": 1, "name": "ada"}`,
		`{"id": 2, "name": `, // truncated
		`{"id": 3, "name": "bob"}`,
		`not json at all`,
	)
	var mu sync.Mutex
	var ids []int64
	q, err := s.ReadStream().Format("json").Schema(malformedSchema).Option("mode", "DROPMALFORMED").Load(dir).
		WriteStream().Option("checkpointLocation", t.TempDir()).
		ForeachBatch(func(ctx context.Context, batch *DataFrame, _ int64) error {
			return batch.ForeachBatch(ctx, func(_ context.Context, _ int, r arrow.RecordBatch) error {
				mu.Lock()
				defer mu.Unlock()
				col := r.Column(0).(*array.Int64)
				for i := range int(r.NumRows()) {
					ids = append(ids, col.Value(i))
				}
				return nil
			})
		}).Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	if err := q.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	p := q.LastProgress()
	if p == nil || len(p.Sources) != 1 {
		t.Fatalf("progress %+v, want one source", p)
	}
	if got := p.Sources[0]; got.NumDroppedMalformedRows != 2 || got.NumInputRows != 2 {
		t.Errorf("batch 0: source progress %+v, want 2 rows read and 2 dropped", got)
	}
	// The count is per batch, and in the progress JSON.
	writeLines(t, dir, "b.json", `{"id": 4, "name": "cy"}`, `[1, 2`, `{"id": 5}`)
	if err := q.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	p = q.LastProgress()
	if got := p.Sources[0]; p.BatchID != 1 || got.NumDroppedMalformedRows != 1 || got.NumInputRows != 2 {
		t.Errorf("batch %d: source progress %+v, want 2 rows read and 1 dropped", p.BatchID, got)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"numDroppedMalformedRows":1`) {
		t.Errorf("progress JSON %s lacks numDroppedMalformedRows", b)
	}
	mu.Lock()
	slices.Sort(ids)
	got := slices.Clone(ids)
	mu.Unlock()
	if want := []int64{1, 3, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("sink got ids %v, want %v", got, want)
	}

	// PERMISSIVE (the default) keeps malformed records as rows of nulls:
	// nothing is dropped.
	q2, err := s.ReadStream().Format("json").Schema(malformedSchema).Load(dir).
		WriteStream().Format("memory").QueryName("permissive").Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.DropTempView("permissive")
	defer q2.Stop(ctx)
	if err := q2.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	if got := q2.LastProgress().Sources[0]; got.NumDroppedMalformedRows != 0 || got.NumInputRows != 7 {
		t.Errorf("PERMISSIVE: source progress %+v, want 7 rows read and none dropped", got)
	}
}

// TestStreamingFailFastStopsTheQuery streams a json directory in FAILFAST
// mode: the first malformed record stops the query with an error naming
// the file and line.
func TestStreamingFailFastStopsTheQuery(t *testing.T) {
	s, _ := streamSession(t)
	ctx := streamCtx(t)
	dir := t.TempDir()
	path := writeLines(t, dir, "events.json",
		`{"id": 1, "name": "ada"}`,
		`{"id": 2, "name": "bob"}`,
		`{"id": 3, "name": `,
		`{"id": 4, "name": "cy"}`,
	)
	q, err := s.ReadStream().Format("json").Schema(malformedSchema).Option("mode", "FAILFAST").Load(dir).
		WriteStream().Format("memory").QueryName("failfast").Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.DropTempView("failfast")
	err = q.AwaitTermination(ctx)
	if err == nil {
		t.Fatal("the query did not fail on a malformed record")
	}
	if !errors.Is(err, file.ErrMalformed) || !strings.Contains(err.Error(), path+":3") || !strings.Contains(err.Error(), "FAILFAST") {
		t.Errorf("error %q: want file.ErrMalformed naming %s:3 and the mode", err, path)
	}
	if q.IsActive() || q.Exception() == nil {
		t.Errorf("after the failure: active %v, exception %v", q.IsActive(), q.Exception())
	}
}
