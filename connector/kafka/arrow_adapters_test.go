package kafka

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spate-io/spate/connector"
)

func checkedMem(t testing.TB) *memory.CheckedAllocator {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// readArrow plans one batch from the earliest offsets and reads it through
// the ArrowSource, returning "key=value@partition/offset" rows sorted, and
// the number of batches emitted.
func readArrow(t testing.TB, src *ArrowSource) ([]string, int) {
	t.Helper()
	ctx := testCtx(t)
	start, err := src.InitialOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ranges, _, _, err := connector.PlanBatch(ctx, src, start, src.Limits())
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	batches := 0
	for _, r := range ranges {
		err := src.Read(ctx, r, func(bs []arrow.RecordBatch) error {
			for _, b := range bs {
				batches++
				if !b.Schema().Equal(src.Schema()) {
					t.Errorf("batch schema %s", b.Schema())
				}
				key := b.Column(0).(*array.Binary)
				val := b.Column(1).(*array.Binary)
				part := b.Column(3).(*array.Int32)
				off := b.Column(4).(*array.Int64)
				for i := range int(b.NumRows()) {
					rows = append(rows, fmt.Sprintf("%s=%s@%d/%d", key.Value(i), val.Value(i), part.Value(i), off.Value(i)))
				}
				b.Release()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(rows)
	return rows, batches
}

func TestArrowSource(t *testing.T) {
	addrs := newCluster(t, 2, "in")
	produce(t, addrs, "in", 0, 25, 5)
	produce(t, addrs, "in", 1, 3, 5)
	mem := checkedMem(t)
	src, err := NewArrowSource(testCtx(t), Brokers(addrs...), APITimeout(5*time.Second), Subscribe("in"),
		StartingOffsets(Earliest()), Allocator(mem), ArrowBatchRows(10))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Name() != "KafkaSource[subscribe=in]" || !src.Schema().Equal(Schema(false)) {
		t.Fatalf("name %s schema %s", src.Name(), src.Schema())
	}
	rows, batches := readArrow(t, src)
	if len(rows) != 28 || rows[0] != "k0=v0@0/0" || !slices.Contains(rows, "k2=v2@1/2") {
		t.Fatalf("rows %v", rows)
	}
	// 25 rows in batches of at most 10 (3) plus 3 rows (1)
	if batches != 4 {
		t.Fatalf("%d batches, want 4", batches)
	}
	if !src.FailOnDataLoss() || src.Stats().RecordsRead != 28 {
		t.Fatalf("FailOnDataLoss %v stats %+v", src.FailOnDataLoss(), src.Stats())
	}
	// an error from emit stops the read and comes back unchanged
	stop := fmt.Errorf("stop")
	err = src.Read(testCtx(t), connector.OffsetRange{Partition: part("in", 0), From: 0, Until: 25}, func(bs []arrow.RecordBatch) error {
		for _, b := range bs {
			b.Release()
		}
		return stop
	})
	if err != stop {
		t.Fatalf("emit error: %v", err)
	}
	if _, err := NewArrowSource(testCtx(t), Brokers(addrs...), Subscribe("in"), ArrowBatchRows(-1)); err == nil {
		t.Fatal("negative ArrowBatchRows accepted")
	}
}

func TestArrowSourceHeadersFromOptions(t *testing.T) {
	addrs := newCluster(t, 1, "h")
	cl := newClient(t, addrs)
	if err := cl.ProduceSync(testCtx(t), &kgo.Record{Topic: "h", Value: []byte("v"),
		Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	mem := checkedMem(t)
	src, err := Provider{}.OpenArrowSource(testCtx(t), map[string]string{
		"kafka.bootstrap.servers": strings.Join(addrs, ","), "assign": `{"h":[0]}`,
		"startingOffsets": "earliest", "includeHeaders": "true",
	}, Allocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Name() != "KafkaSource[assign=h-0]" || src.Schema().NumFields() != 8 {
		t.Fatalf("name %s schema %s", src.Name(), src.Schema())
	}
	err = src.Read(testCtx(t), connector.OffsetRange{Partition: part("h", 0), From: 0, Until: 1}, func(bs []arrow.RecordBatch) error {
		for _, b := range bs {
			if got := b.Column(7).ValueStr(0); !strings.Contains(got, "a") {
				t.Errorf("headers %s", got)
			}
			b.Release()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sinkBatch builds a batch with string keys, binary values, and optional
// topic, partition and headers columns.
func sinkBatch(mem memory.Allocator, prefix string, n int, topic string, withPart bool) arrow.RecordBatch {
	fields := []arrow.Field{
		{Name: "key", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "value", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "headers", Type: headerType, Nullable: true},
		{Name: "extra", Type: arrow.PrimitiveTypes.Float64},
	}
	if topic != "" {
		fields = append(fields, arrow.Field{Name: "topic", Type: arrow.BinaryTypes.String, Nullable: true})
	}
	if withPart {
		fields = append(fields, arrow.Field{Name: "partition", Type: arrow.PrimitiveTypes.Int64})
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
	defer b.Release()
	hb := b.Field(2).(*array.ListBuilder)
	hs := hb.ValueBuilder().(*array.StructBuilder)
	for i := range n {
		if i%4 == 3 {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("%s-k%d", prefix, i%3))
		}
		b.Field(1).(*array.BinaryBuilder).Append(fmt.Appendf(nil, "%s-%d", prefix, i))
		hb.Append(true)
		hs.Append(true)
		hs.FieldBuilder(0).(*array.StringBuilder).Append("n")
		hs.FieldBuilder(1).(*array.BinaryBuilder).Append(fmt.Appendf(nil, "%d", i))
		b.Field(3).(*array.Float64Builder).Append(1.5)
		next := 4
		if topic != "" {
			b.Field(next).(*array.StringBuilder).Append(topic)
			next++
		}
		if withPart {
			b.Field(next).(*array.Int64Builder).Append(int64(i % 2))
		}
	}
	return b.NewRecordBatch()
}

func TestArrowSinkExactlyOnce(t *testing.T) {
	addrs := newCluster(t, 2, "out")
	ctx := testCtx(t)
	mem := checkedMem(t)
	newArrowSink := func() *ArrowSink {
		s, err := Provider{}.OpenArrowSink(ctx, map[string]string{
			"kafka.bootstrap.servers": strings.Join(addrs, ","), "topic": "out", "kafka.transactional": "true",
		}, "aq", 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s1 := newArrowSink()
	if s1.AtLeastOnce() {
		t.Fatal("transactional sink claims at-least-once")
	}
	a, b := sinkBatch(mem, "a", 4, "", false), sinkBatch(mem, "b", 3, "", false)
	defer a.Release()
	defer b.Release()
	for _, step := range []struct {
		id int64
		bs []arrow.RecordBatch
	}{{0, []arrow.RecordBatch{a}}, {0, []arrow.RecordBatch{a}}, {1, []arrow.RecordBatch{b}}} {
		if err := s1.AddBatch(ctx, step.id, step.bs); err != nil {
			t.Fatal(err)
		}
	}
	// a restarted query: the new instance fences the old one and skips
	// the re-run of batch 1
	s2 := newArrowSink()
	if id, ok, err := s2.LastBatchID(ctx); err != nil || !ok || id != 1 {
		t.Fatalf("LastBatchID %d %v %v", id, ok, err)
	}
	if err := s2.AddBatch(ctx, 1, []arrow.RecordBatch{b}); err != nil {
		t.Fatal(err)
	}
	c := sinkBatch(mem, "c", 2, "", false)
	defer c.Release()
	if err := s2.AddBatch(ctx, 2, []arrow.RecordBatch{c, c}); err != nil { // several batches in one
		t.Fatal(err)
	}
	want := []string{"a-0", "a-1", "a-2", "a-3", "b-0", "b-1", "b-2", "c-0", "c-0", "c-1", "c-1"}
	if got := readTopic(t, addrs, "out", true); !slices.Equal(got, want) {
		t.Fatalf("read_committed sees %v, want %v", got, want)
	}
	if plain := kgoReadCommitted(t, addrs, "out", len(want)); !slices.Equal(plain, want) {
		t.Fatalf("franz-go read_committed consumer sees %v", plain)
	}
}

func TestArrowSinkColumns(t *testing.T) {
	addrs := newCluster(t, 2, "out", "other")
	ctx := testCtx(t)
	mem := checkedMem(t)
	s, err := NewArrowSink(ctx, Brokers(addrs...), APITimeout(5*time.Second), Topic("out"), ExplicitPartitions(true))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.AtLeastOnce() {
		t.Fatal("default sink claims exactly-once")
	}
	rec := sinkBatch(mem, "x", 4, "other", true)
	defer rec.Release()
	if err := s.AddBatch(ctx, 0, []arrow.RecordBatch{rec}); err != nil {
		t.Fatal(err)
	}
	// read partition 1 of "other" back: rows 1 and 3, with key, null key
	// and headers
	src := newSource(t, addrs, Assign(part("other", 1)), StartingOffsets(Earliest()), IncludeHeaders(true))
	recs, err := readAll(t, src, connector.OffsetRange{Partition: part("other", 1), From: 0, Until: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || string(recs[0].Value) != "x-1" || string(recs[0].Key) != "x-k1" || recs[1].Key != nil ||
		len(recs[1].Headers) != 1 || string(recs[1].Headers[0].Value) != "3" {
		t.Fatalf("records %+v", recs)
	}
	if got := readTopic(t, addrs, "out", false); len(got) != 0 {
		t.Fatalf("default topic got %v", got)
	}

	// round trip: rows read from Kafka written back (partition column
	// used, offset and timestampType ignored, timestamp kept)
	ts := time.UnixMilli(1_700_000_000_000)
	ab := NewArrowBuilder(mem, true)
	ab.Append([]Record{{Topic: "out", Partition: 1, Offset: 99, Timestamp: ts, Key: []byte("rk"), Value: []byte("rv")}})
	rt := ab.NewRecordBatch()
	ab.Release()
	defer rt.Release()
	if err := s.AddBatch(ctx, 1, []arrow.RecordBatch{rt}); err != nil {
		t.Fatal(err)
	}
	src2 := newSource(t, addrs, Assign(part("out", 1)), StartingOffsets(Earliest()))
	back, err := readAll(t, src2, connector.OffsetRange{Partition: part("out", 1), From: 0, Until: 1})
	if err != nil || len(back) != 1 || string(back[0].Value) != "rv" || !back[0].Timestamp.Equal(ts) {
		t.Fatalf("round trip %+v %v", back, err)
	}
}

func TestArrowSinkBadColumns(t *testing.T) {
	mem := checkedMem(t)
	build := func(fields []arrow.Field, fill func(b *array.RecordBuilder)) arrow.RecordBatch {
		b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
		defer b.Release()
		fill(b)
		return b.NewRecordBatch()
	}
	str := func(name string) arrow.Field {
		return arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
	}
	cases := []struct {
		name     string
		rec      arrow.RecordBatch
		explicit bool
		want     string
	}{
		{"no value", build([]arrow.Field{str("key")}, func(b *array.RecordBuilder) { b.Field(0).AppendNull() }), false, `no "value" column`},
		{"int value", build([]arrow.Field{{Name: "value", Type: arrow.PrimitiveTypes.Int64}}, func(b *array.RecordBuilder) {
			b.Field(0).(*array.Int64Builder).Append(1)
		}), false, "want binary or string"},
		{"partition without explicit", build([]arrow.Field{str("value"), {Name: "partition", Type: arrow.PrimitiveTypes.Int32}}, func(b *array.RecordBuilder) {
			b.Field(0).(*array.StringBuilder).Append("v")
			b.Field(1).(*array.Int32Builder).Append(0)
		}), false, "ExplicitPartitions"},
		{"null partition", build([]arrow.Field{str("value"), {Name: "partition", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}, func(b *array.RecordBuilder) {
			b.Field(0).(*array.StringBuilder).Append("v")
			b.Field(1).AppendNull()
		}), true, "null or out of range"},
		{"int topic", build([]arrow.Field{str("value"), {Name: "topic", Type: arrow.PrimitiveTypes.Int32}}, func(b *array.RecordBuilder) {
			b.Field(0).(*array.StringBuilder).Append("v")
			b.Field(1).(*array.Int32Builder).Append(0)
		}), false, "want string"},
		{"bad headers", build([]arrow.Field{str("value"), str("headers")}, func(b *array.RecordBuilder) {
			b.Field(0).(*array.StringBuilder).Append("v")
			b.Field(1).(*array.StringBuilder).Append("h")
		}), false, "want list<struct"},
	}
	for _, tc := range cases {
		_, err := appendRecords(nil, tc.rec, tc.explicit)
		tc.rec.Release()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	// string values, large types, empty vs null
	rec := build([]arrow.Field{str("value"), {Name: "key", Type: arrow.BinaryTypes.LargeBinary, Nullable: true}}, func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).AppendValues([]string{"", "v"}, nil)
		b.Field(0).AppendNull()
		b.Field(1).(*array.BinaryBuilder).AppendValues([][]byte{[]byte("k"), nil, nil}, []bool{true, false, true})
	})
	defer rec.Release()
	recs, err := appendRecords(nil, rec, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Value == nil || len(recs[0].Value) != 0 || string(recs[1].Value) != "v" || recs[2].Value != nil ||
		string(recs[0].Key) != "k" || recs[1].Key != nil || recs[2].Key == nil {
		t.Fatalf("records %+v", recs)
	}
}

// ExampleNewArrowSource reads a Kafka topic as Arrow batches of the
// DataFrame schema.
func ExampleNewArrowSource() {
	ctx := context.Background()
	cluster, _ := NewEmbedded(1, "events")
	defer cluster.Close()
	sink, _ := NewSink(ctx, Brokers(cluster.Addrs()...), Topic("events"))
	_ = sink.AddBatch(ctx, 0, []Record{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}})
	sink.Close()

	src, err := NewArrowSource(ctx, Brokers(cluster.Addrs()...), Subscribe("events"), StartingOffsets(Earliest()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	start, _ := src.InitialOffsets(ctx)
	ranges, _, _, _ := connector.PlanBatch(ctx, src, start, src.Limits())
	for _, r := range ranges {
		_ = src.Read(ctx, r, func(bs []arrow.RecordBatch) error {
			for _, b := range bs {
				keys, vals := b.Column(0).(*array.Binary), b.Column(1).(*array.Binary)
				for i := range int(b.NumRows()) {
					fmt.Printf("%s=%s topic=%s offset=%s\n", keys.Value(i), vals.Value(i), b.Column(2).ValueStr(i), b.Column(4).ValueStr(i))
				}
				b.Release()
			}
			return nil
		})
	}
	// Output:
	// a=1 topic=events offset=0
	// b=2 topic=events offset=1
}
