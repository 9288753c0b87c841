package streaming

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/checkpoint"
)

// tableState is a stateful operator's state: an Arrow table held in
// memory and written to the checkpoint once per batch (Arrow IPC in a
// checkpoint file named after the batch id, the last stateFilesKept
// kept), so that a batch re-run after a failure starts from the previous
// batch's table.
type tableState struct {
	dir  string // <checkpoint>/state/<operator>-0
	kind string // the checkpoint file kind, such as "aggstate"
	what string // for messages, such as "aggregation state"

	batches []arrow.RecordBatch // retained
	schema  *arrow.Schema
	rows    int64
}

func stateName(id int64) string { return fmt.Sprintf("%020d", id) }

// write stores bs as the state of batch id and removes old files.
func (ts *tableState) write(id int64, s *arrow.Schema, bs []arrow.RecordBatch) error {
	if len(bs) > 0 {
		s = bs[0].Schema()
	}
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s))
	for _, b := range bs {
		if err := w.Write(b); err != nil {
			return fmt.Errorf("encoding the %s: %w", ts.what, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("encoding the %s: %w", ts.what, err)
	}
	if err := os.MkdirAll(ts.dir, 0o755); err != nil {
		return err
	}
	if err := checkpoint.WriteFile(ts.dir, stateName(id), ts.kind, buf.Bytes()); err != nil {
		return fmt.Errorf("writing the %s: %w", ts.what, err)
	}
	if old := id - stateFilesKept; old >= 0 {
		os.Remove(filepath.Join(ts.dir, stateName(old)))
	}
	return nil
}

// replace makes bs (owned by the state from now on) the current table.
func (ts *tableState) replace(s *arrow.Schema, bs []arrow.RecordBatch) {
	releaseAll(ts.batches)
	ts.batches, ts.schema, ts.rows = bs, s, 0
	if len(bs) > 0 {
		ts.schema = bs[0].Schema()
	}
	for _, b := range bs {
		ts.rows += b.NumRows()
	}
}

// load makes the state of batch id current (id < 0: empty). The file's
// columns must be the operator's.
func (ts *tableState) load(id int64, alloc memory.Allocator) error {
	ts.replace(ts.schema, nil)
	if id < 0 {
		return nil
	}
	path := filepath.Join(ts.dir, stateName(id))
	b, err := checkpoint.ReadFile(path, ts.kind)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("the %s of committed batch %d is missing (%s); the checkpoint is damaged", ts.what, id, path)
	}
	if err != nil {
		return err
	}
	r, err := ipc.NewReader(bytes.NewReader(b), ipc.WithAllocator(alloc))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer r.Release()
	if !sameColumns(r.Schema(), ts.schema) {
		return fmt.Errorf("%s holds a %s of schema %s, the query's is %s: the query changed; use a new checkpoint location", path, ts.what, r.Schema(), ts.schema)
	}
	var bs []arrow.RecordBatch
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		bs = append(bs, rec)
	}
	if err := r.Err(); err != nil {
		releaseAll(bs)
		return fmt.Errorf("%s: %w", path, err)
	}
	ts.replace(r.Schema(), bs)
	return nil
}

// close releases the table.
func (ts *tableState) close() { ts.replace(ts.schema, nil) }

// sameColumns reports whether two schemas have the same column names and
// types (nullability may differ).
func sameColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i, f := range a.Fields() {
		g := b.Field(i)
		if f.Name != g.Name || !arrow.TypeEqual(f.Type, g.Type) {
			return false
		}
	}
	return true
}
