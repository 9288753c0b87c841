package dstream_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/dstream/dstreamtest"
	"github.com/spate-io/spate/rdd"
)

func TestStateSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in := [][]string{{"a"}, {"a", "b"}, {"b"}, {}, {}, {"c"}, {}}
	pairs := func(s *dstream.DStream[string]) *dstream.DStream[rdd.Pair[string, int]] {
		return dstream.Map(s, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
	}
	upd, err := dstreamtest.Run(ctx, in, func(s *dstream.DStream[string]) *dstream.DStream[rdd.Pair[string, int]] {
		return dstream.UpdateStateByKey(pairs(s), func(vs []int, st int, ok bool) (int, bool) {
			for _, v := range vs {
				st += v
			}
			return st, st < 3 || len(vs) > 0
		})
	}, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(upd)
	mws, err := dstreamtest.Run(ctx, in, func(s *dstream.DStream[string]) *dstream.DStream[string] {
		return dstream.MapWithState(pairs(s), dstream.StateSpec[string, int, int, string]{
			Timeout: 2 * time.Second,
			Func: func(t time.Time, k string, v int, st *dstream.State[int]) string {
				if st.IsTimingOut() {
					return fmt.Sprintf("%s timed out at %d with %d", k, t.Unix(), st.Get())
				}
				n := st.Get() + v
				st.Update(n)
				return fmt.Sprintf("%s=%d", k, n)
			},
		}).DStream
	}, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(mws)
}
