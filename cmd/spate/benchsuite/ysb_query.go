package benchsuite

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/rdd"
)

// The YSB query counts, per campaign and 10 s event-time window, the
// "view" events of the campaign's ads: parse the JSON, filter
// event_type = "view", project (ad_id, event_time), join ad_id →
// campaign_id with the static table, count per (campaign, window). The
// result has one row per (campaign, window): its count.

// ysbPack packs a state key into an int64 (for the fast built-in codec):
// window start × 128 + campaign.
func ysbPack(k ysbKey) int64 { return k.Window*128 + int64(k.Campaign) }

func ysbUnpack(v int64) ysbKey { return ysbKey{Campaign: int32(v % 128), Window: v / 128} }

func ysbRowHash(k int64, count int64) uint64 {
	u := ysbUnpack(k)
	return hashInts(int64(u.Campaign), u.Window, count)
}

// ysbDStream builds the query on in: Map(parse) → Filter(view) →
// Map(join, project) → Filter(known ad) → MapPartitions(count per key in
// the partition) → MapWithState(add to the window's count) → the upsert
// table.
func ysbDStream(g *YSBGenerator, parse YSBParser, in *dstream.DStream[[]byte], timeout time.Duration, out *upsertTable[int64, int64]) error {
	events := dstream.Map(in, func(line []byte) YSBEvent {
		var ev YSBEvent
		if err := parse(line, &ev); err != nil {
			panic(err) // fails the task with the error
		}
		return ev
	})
	views := events.Filter(func(ev YSBEvent) bool { return string(ev.EventType) == "view" })
	type keyed struct {
		key int64
		ok  bool
	}
	joined := dstream.Map(views, func(ev YSBEvent) keyed {
		c, ok := g.CampaignOf(ev.AdID)
		return keyed{key: ysbPack(ysbKey{Campaign: c, Window: ysbWindow(ev.EventTime)}), ok: ok}
	}).Filter(func(k keyed) bool { return k.ok })
	partial := dstream.MapPartitions(joined, func(keys iter.Seq[keyed]) iter.Seq[rdd.Pair[int64, int64]] {
		return func(yield func(rdd.Pair[int64, int64]) bool) {
			counts := map[int64]int64{}
			for k := range keys {
				counts[k.key]++
			}
			for k, c := range counts {
				if !yield(rdd.KV(k, c)) {
					return
				}
			}
		}
	})
	updates := dstream.MapWithState(partial, dstream.StateSpec[int64, int64, int64, rdd.Pair[int64, versioned[int64]]]{
		Func: func(_ time.Time, k int64, v int64, st *dstream.State[int64]) rdd.Pair[int64, versioned[int64]] {
			if st.IsTimingOut() {
				return rdd.KV(k, versioned[int64]{Version: -1})
			}
			n := st.Get() + v
			_ = st.Update(n)
			return rdd.KV(k, versioned[int64]{Version: n, Row: n})
		},
		Timeout: timeout,
	})
	return upsertOutput(updates.DStream.Name("ysb-updates"), out)
}

// ysbHandloop is the baseline: one goroutine generates events 0..n-1,
// parses each with the same parser, filters, joins and counts per
// (campaign, window) in one map.
func ysbHandloop(ctx context.Context, g *YSBGenerator, parse YSBParser, n int64) (Result, error) {
	counts := map[int64]int64{}
	var ev YSBEvent
	buf := make([]byte, 0, ysbEventSize)
	for i := range n {
		if i%65536 == 0 && ctx.Err() != nil {
			return Result{}, fmt.Errorf("benchsuite: ysb baseline: %w", ctx.Err())
		}
		buf = g.AppendEvent(buf[:0], i)
		k, ok, err := g.ysbView(parse, buf, &ev)
		if err != nil {
			return Result{}, err
		}
		if ok {
			counts[ysbPack(k)]++
		}
	}
	var a accumulator
	for k, c := range counts {
		a.add(ysbRowHash(k, c))
	}
	return a.result(), nil
}

// ysbSpec is the YSB query's runner.
func ysbSpec() streamSpec[[]byte, *YSBGenerator] {
	return streamSpec[[]byte, *YSBGenerator]{
		defaultEventRate: 1_000_000,
		newGen: func(c genConfig) *YSBGenerator {
			return NewYSBGenerator(YSBConfig{Seed: c.Seed, BaseMs: c.BaseMs, EventRate: c.EventRate})
		},
		build: func(g *YSBGenerator, in *dstream.DStream[[]byte], p Params, timeout time.Duration) (func() Result, error) {
			parse, err := YSBParserByName(p.Parser)
			if err != nil {
				return nil, err
			}
			table := newUpsertTable(ysbRowHash)
			if err := ysbDStream(g, parse, in, timeout, table); err != nil {
				return nil, err
			}
			return table.result, nil
		},
		base: func(ctx context.Context, g *YSBGenerator, p Params, n int64) (Result, error) {
			parse, err := YSBParserByName(p.Parser)
			if err != nil {
				return Result{}, err
			}
			return ysbHandloop(ctx, g, parse, n)
		},
	}
}
