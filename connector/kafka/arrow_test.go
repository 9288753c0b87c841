package kafka

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestArrowBuilder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := NewArrowBuilder(mem, true)
	defer b.Release()
	ts := time.UnixMilli(1_700_000_000_123)
	b.Append([]Record{
		{Topic: "t", Partition: 2, Offset: 7, Timestamp: ts, Key: []byte("k"), Value: []byte("v"), Headers: []Header{{Key: "h", Value: []byte("1")}, {Key: "n"}}},
		{Topic: "t", Partition: 2, Offset: 8, Timestamp: ts, TimestampType: LogAppendTime, Value: []byte("tomb")},
	})
	if b.Len() != 2 {
		t.Fatalf("len %d", b.Len())
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	if !rec.Schema().Equal(Schema(true)) || rec.NumRows() != 2 {
		t.Fatalf("schema %v rows %d", rec.Schema(), rec.NumRows())
	}
	key := rec.Column(0).(*array.Binary)
	if string(key.Value(0)) != "k" || !key.IsNull(1) {
		t.Error("key column")
	}
	if rec.Column(4).(*array.Int64).Value(1) != 8 || rec.Column(3).(*array.Int32).Value(0) != 2 ||
		rec.Column(2).(*array.String).Value(0) != "t" || rec.Column(6).(*array.Int32).Value(1) != 1 {
		t.Error("scalar columns")
	}
	if got := rec.Column(5).(*array.Timestamp).Value(0); got != arrow.Timestamp(ts.UnixMicro()) {
		t.Errorf("timestamp %d", got)
	}
	hdr := rec.Column(7).(*array.List)
	start, end := hdr.ValueOffsets(0)
	st := hdr.ListValues().(*array.Struct)
	if end-start != 2 || st.Field(0).(*array.String).Value(int(start)) != "h" || !st.Field(1).IsNull(int(start)+1) {
		t.Error("headers column")
	}
	if s, e := hdr.ValueOffsets(1); e != s {
		t.Error("second row has headers")
	}
	if len(Schema(false).Fields()) != 7 {
		t.Error("schema without headers")
	}
}
