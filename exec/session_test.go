package exec

import (
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/expr"
)

func TestSessionBounds(t *testing.T) {
	ts := func(vals []int64, valid []bool) arrow.Array {
		b := array.NewTimestampBuilder(memory.DefaultAllocator, expr.TimestampType)
		defer b.Release()
		for i, v := range vals {
			b.AppendValues([]arrow.Timestamp{arrow.Timestamp(v)}, []bool{valid == nil || valid[i]})
		}
		return b.NewArray()
	}
	tests := []struct {
		name               string
		start, end         []int64
		valid              []bool
		ids                []uint32
		wantStart, wantEnd []int64
	}{
		{"one key, chained overlaps out of order", []int64{18, 0, 9}, []int64{30, 10, 19}, nil, []uint32{0, 0, 0}, []int64{0, 0, 0}, []int64{30, 30, 30}},
		{"touching intervals stay apart", []int64{0, 10}, []int64{10, 20}, nil, []uint32{0, 0}, []int64{0, 10}, []int64{10, 20}},
		{"a long interval swallows later ones", []int64{0, 5, 50}, []int64{100, 6, 60}, nil, []uint32{0, 0, 0}, []int64{0, 0, 0}, []int64{100, 100, 100}},
		{"keys apart", []int64{0, 5}, []int64{10, 15}, nil, []uint32{0, 1}, []int64{0, 5}, []int64{10, 15}},
		{"a null bound keeps its row out", []int64{0, 5, 8}, []int64{10, 15, 20}, []bool{true, false, true}, []uint32{0, 0, 0}, []int64{0, 5, 0}, []int64{20, 15, 20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, e := ts(tc.start, tc.valid), ts(tc.end, nil)
			defer s.Release()
			defer e.Release()
			gotS, gotE, err := sessionBounds(s, e, tc.ids)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(gotS, tc.wantStart) || !slices.Equal(gotE, tc.wantEnd) {
				t.Errorf("bounds = %v %v, want %v %v", gotS, gotE, tc.wantStart, tc.wantEnd)
			}
		})
	}
}
