package dstream_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/dstream/dstreamtest"
	"github.com/spate-io/spate/rdd"
)

func TestSmokeWordCount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := dstreamtest.Run(ctx, [][]string{{"a b", "a"}, {}, {"c"}},
		func(s *dstream.DStream[string]) *dstream.DStream[rdd.Pair[string, int]] {
			return dstream.CountByValue(dstream.FlatMap(s, strings.Fields))
		}, 4)
	if err != nil {
		t.Fatal(err)
	}
	dstreamtest.EqualUnordered(t, out, [][]rdd.Pair[string, int]{
		{rdd.KV("a", 2), rdd.KV("b", 1)}, {}, {rdd.KV("c", 1)}, {},
	})
	cnt, err := dstreamtest.Run(ctx, [][]int{{1, 2, 3}, {}}, func(s *dstream.DStream[int]) *dstream.DStream[int] { return s.Count() }, 2)
	if err != nil {
		t.Fatal(err)
	}
	dstreamtest.Equal(t, cnt, [][]int{{3}, {0}})
}
