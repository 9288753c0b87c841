package streaming

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/state"
)

// A table written with the previous table given (a join's buffered rows)
// puts only the batches that are not the previous table's own and
// deletes only the keys of the batches it dropped; what a load reads
// back is the table, in every partition count, version after version.
func TestTableStateIncrementalWrite(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	alloc := memory.NewGoAllocator()
	rows := func(ids ...int64) arrow.RecordBatch {
		rb := array.NewRecordBuilder(alloc, schema)
		defer rb.Release()
		for _, id := range ids {
			rb.Field(0).(*array.Int64Builder).Append(id)
			rb.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("v%d", id))
		}
		return rb.NewRecordBatch()
	}
	for _, parts := range []int{1, 3} {
		t.Run(fmt.Sprintf("partitions=%d", parts), func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			prov, err := state.NewProvider(dir, parts)
			if err != nil {
				t.Fatal(err)
			}
			defer prov.Close(ctx)
			ts := &tableState{kind: "joinstate", what: "join state", schema: schema, uniqueKeys: true}
			if err := ts.attach(prov, "join-0-left", 1); err != nil {
				t.Fatal(err)
			}
			defer ts.close()
			a, b := rows(1, 2, 3), rows(4, 5)
			c := rows(2, 3) // a with 1 evicted: a new batch
			d := rows(6)
			steps := []struct {
				table []arrow.RecordBatch
				want  []int64
			}{
				{[]arrow.RecordBatch{a}, []int64{1, 2, 3}},
				{[]arrow.RecordBatch{a, b}, []int64{1, 2, 3, 4, 5}}, // a kept as it is
				{[]arrow.RecordBatch{c, b, d}, []int64{2, 3, 4, 5, 6}},
				{[]arrow.RecordBatch{d}, []int64{6}},
				{nil, nil},
			}
			for id, st := range steps {
				for _, x := range st.table {
					x.Retain() // the table owns its batches (replace releases them)
				}
				if err := ts.write(ctx, int64(id), schema, st.table, ts.batches); err != nil {
					t.Fatalf("batch %d: %v", id, err)
				}
				ts.replace(schema, st.table)
				// Read the version back as a restart would.
				back := &tableState{kind: "joinstate", what: "join state", schema: schema, uniqueKeys: true}
				if err := back.attach(prov, "join-0-left", 1); err != nil {
					t.Fatal(err)
				}
				if err := back.load(ctx, int64(id), alloc); err != nil {
					t.Fatalf("batch %d: load: %v", id, err)
				}
				var got []int64
				for _, rb := range back.batches {
					ids, vs := rb.Column(0).(*array.Int64), rb.Column(1).(*array.String)
					for i := range ids.Len() {
						if vs.Value(i) != fmt.Sprintf("v%d", ids.Value(i)) {
							t.Errorf("batch %d: row %d has value %q", id, ids.Value(i), vs.Value(i))
						}
						got = append(got, ids.Value(i))
					}
				}
				back.close()
				slices.Sort(got)
				if !slices.Equal(got, st.want) {
					t.Errorf("batch %d: the state holds %v, want %v", id, got, st.want)
				}
			}
			for _, x := range []arrow.RecordBatch{a, b, c, d} {
				x.Release()
			}
		})
	}
}

// writeChanges puts rows and then deletes keys, also keys it just put
// (a group touched and finished in the same batch); the other rows stay.
func TestTableStateWriteChanges(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	alloc := memory.NewGoAllocator()
	rows := func(kv ...int64) arrow.RecordBatch {
		rb := array.NewRecordBuilder(alloc, schema)
		defer rb.Release()
		for i := 0; i < len(kv); i += 2 {
			rb.Field(0).(*array.Int64Builder).Append(kv[i])
			rb.Field(1).(*array.Int64Builder).Append(kv[i+1])
		}
		return rb.NewRecordBatch()
	}
	ctx := context.Background()
	prov, err := state.NewProvider(t.TempDir(), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close(ctx)
	ts := &tableState{kind: "aggstate", what: "aggregation state", schema: schema, uniqueKeys: true}
	if err := ts.attach(prov, "aggregate-0", 1); err != nil {
		t.Fatal(err)
	}
	first := rows(1, 10, 2, 20, 3, 30)
	defer first.Release()
	if err := ts.write(ctx, 0, schema, []arrow.RecordBatch{first}, nil); err != nil {
		t.Fatal(err)
	}
	puts, dels := rows(2, 21, 4, 40), rows(3, 30, 4, 40)
	defer puts.Release()
	defer dels.Release()
	if err := ts.writeChanges(ctx, 1, []arrow.RecordBatch{puts}, []arrow.RecordBatch{dels}); err != nil {
		t.Fatal(err)
	}
	back := &tableState{kind: "aggstate", what: "aggregation state", schema: schema, uniqueKeys: true}
	if err := back.attach(prov, "aggregate-0", 1); err != nil {
		t.Fatal(err)
	}
	defer back.close()
	if err := back.load(ctx, 1, alloc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rb := range back.batches {
		k, n := rb.Column(0).(*array.Int64), rb.Column(1).(*array.Int64)
		for i := range k.Len() {
			got = append(got, fmt.Sprintf("%d=%d", k.Value(i), n.Value(i)))
		}
	}
	slices.Sort(got)
	if want := []string{"1=10", "2=21"}; !slices.Equal(got, want) {
		t.Errorf("state %v, want %v", got, want)
	}
}
