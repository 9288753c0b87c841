package benchsuite

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/rdd"
)

// nexmarkSpec is a Nexmark query's runner, from its DStream pipeline and
// its per-event baseline.
func nexmarkSpec(build func(g *NexmarkGenerator, in *dstream.DStream[Event], timeout time.Duration) (func() Result, error),
	base func(ctx context.Context, events iter.Seq[*Event]) (Result, error)) streamSpec[Event, *NexmarkGenerator] {
	return streamSpec[Event, *NexmarkGenerator]{
		defaultEventRate: 10_000_000,
		newGen: func(c genConfig) *NexmarkGenerator {
			return NewNexmarkGenerator(NexmarkConfig{Seed: c.Seed, BaseMs: c.BaseMs, EventRate: c.EventRate})
		},
		build: func(g *NexmarkGenerator, in *dstream.DStream[Event], _ Params, timeout time.Duration) (func() Result, error) {
			return build(g, in, timeout)
		},
		base: func(ctx context.Context, g *NexmarkGenerator, _ Params, n int64) (Result, error) {
			var err error
			res, berr := base(ctx, handEvents(ctx, g, n, &err))
			if err != nil {
				return Result{}, err
			}
			return res, berr
		},
	}
}

// handEvents yields events 0..n-1 of g in order, for the baselines,
// generated in chunks into one reused slice. A cancelled ctx ends the
// sequence and sets *err.
func handEvents(ctx context.Context, g *NexmarkGenerator, n int64, err *error) iter.Seq[*Event] {
	return func(yield func(*Event) bool) {
		buf := make([]Event, 0, readChunk)
		for from := int64(0); from < n; from += readChunk {
			if ctx.Err() != nil {
				*err = fmt.Errorf("benchsuite: baseline: %w", ctx.Err())
				return
			}
			buf = g.Generate(buf[:0], from, 1, int(min(readChunk, n-from)))
			for i := range buf {
				if !yield(&buf[i]) {
					return
				}
			}
		}
	}
}

func isBid(e Event) bool { return e.Type == BidEvent }

// statelessQuery is q0–q2: Filter(keep) → Map(project) → blackhole.
//
// The functions take values, not pointers: a pointer to a range variable
// passed to a function value escapes, and that would cost an allocation
// per event.
func statelessQuery[R any](keep func(Event) bool, project func(Bid) R, hash func(R) uint64) streamSpec[Event, *NexmarkGenerator] {
	return nexmarkSpec(
		func(_ *NexmarkGenerator, in *dstream.DStream[Event], _ time.Duration) (func() Result, error) {
			rows := dstream.Map(in.Filter(keep), func(e Event) R { return project(e.Bid) })
			var b blackhole
			if err := blackholeOutput(rows, hash, &b); err != nil {
				return nil, err
			}
			return b.result, nil
		},
		func(_ context.Context, events iter.Seq[*Event]) (Result, error) {
			var a accumulator
			for e := range events {
				if keep(*e) {
					a.add(hash(project(e.Bid)))
				}
			}
			return a.result(), nil
		})
}

// Q0Row is q0's output: a bid without its channel and URL.
type Q0Row struct {
	Auction, Bidder, Price, DateTime int64
	Extra                            string
}

func hashQ0(r Q0Row) uint64 {
	return mix64(hashInts(r.Auction, r.Bidder, r.Price, r.DateTime) ^ hashString(r.Extra))
}

func bidOnly(e Event) bool { return e.Type == BidEvent }

func nexmarkQ0() streamSpec[Event, *NexmarkGenerator] {
	return statelessQuery(bidOnly, func(b Bid) Q0Row {
		return Q0Row{Auction: b.Auction, Bidder: b.Bidder, Price: b.Price, DateTime: b.DateTime, Extra: b.Extra}
	}, hashQ0)
}

// q1 converts the price to euros at 0.908 per dollar. Prices are integers
// (cents); the result is kept exact, in thousandths of a cent.
func nexmarkQ1() streamSpec[Event, *NexmarkGenerator] {
	return statelessQuery(bidOnly, func(b Bid) Q0Row {
		return Q0Row{Auction: b.Auction, Bidder: b.Bidder, Price: b.Price * 908, DateTime: b.DateTime, Extra: b.Extra}
	}, hashQ0)
}

// Q2Row is q2's output.
type Q2Row struct{ Auction, Price int64 }

func nexmarkQ2() streamSpec[Event, *NexmarkGenerator] {
	return statelessQuery(func(e Event) bool { return e.Type == BidEvent && e.Bid.Auction%123 == 0 },
		func(b Bid) Q2Row { return Q2Row{Auction: b.Auction, Price: b.Price} },
		func(r Q2Row) uint64 { return hashInts(r.Auction, r.Price) })
}

// q5: hot items. Windows of 10 s sliding by 2 s over the bids' dateTime;
// per window, the auctions with the most bids. The DStream pipeline
// counts bids per (2 s bucket, auction) in each partition; a first
// MapWithState, keyed by auction, keeps the auction's counts of its recent
// buckets and emits, for each of the 5 windows covering an updated
// bucket, the auction's count in that window; each partition then keeps,
// per window, the highest of those counts and its auctions, and a second
// MapWithState, keyed by window start, merges them.
const (
	q5Size  = 10_000 // ms
	q5Slide = 2_000  // ms
)

// Q5State is the state of one q5 window.
type Q5State struct {
	Counts map[int64]int64 // bids per auction
	Max    int64
	Top    []int64 // the auctions with Max bids
	N      int64   // bids merged so far (the version of the row)
}

// Q5Row is the result of one window: the top auctions (sorted) and their
// number of bids.
type Q5Row struct {
	Num      int64
	Auctions []int64
}

func (s *Q5State) add(auction, c int64) {
	if s.Counts == nil {
		s.Counts = map[int64]int64{}
	}
	n := s.Counts[auction] + c
	s.Counts[auction] = n
	s.N += c
	switch {
	case n > s.Max:
		s.Max = n
		s.Top = append(s.Top[:0], auction)
	case n == s.Max:
		s.Top = append(s.Top, auction)
	}
}

func (s *Q5State) row() Q5Row {
	top := slices.Clone(s.Top)
	slices.Sort(top)
	return Q5Row{Num: s.Max, Auctions: top}
}

func hashQ5(ws int64, r Q5Row) uint64 {
	h := hashInts(ws, r.Num, int64(len(r.Auctions)))
	for _, a := range r.Auctions {
		h = mix64(h ^ uint64(a))
	}
	return h
}

// q5Key packs a window (by its bucket number) and an auction into one
// int64.
func q5Key(bucket, auction int64) int64 { return bucket<<32 | auction&0xffffffff }

func q5Unkey(k int64) (bucket, auction int64) { return k >> 32, k & 0xffffffff }

// q5Ring is how many recent buckets the per-auction state keeps: an
// update of bucket b changes the windows starting at b-4 ... b, which
// cover buckets b-4 ... b+4.
const q5Ring = 2*(q5Size/q5Slide) - 1

// Q5Auction is the state of one auction in q5's first stage: its bid
// counts in buckets Last-8 ... Last (Counts[Last mod 9] is bucket Last).
type Q5Auction struct {
	Last   int64
	Counts [q5Ring]int64
}

// add adds c bids in bucket b and reports false when b is more than 4
// buckets older than the newest: the windows it changes would need
// buckets no longer kept (a batch spanning more than 5 buckets of event
// time).
func (s *Q5Auction) add(b, c int64) bool {
	switch {
	case s.Last == 0 && s.Counts == [q5Ring]int64{}:
		s.Last = b
	case b > s.Last:
		for x := s.Last + 1; x <= b && x <= s.Last+q5Ring; x++ {
			s.Counts[x%q5Ring] = 0
		}
		s.Last = b
	case b < s.Last-(q5Size/q5Slide-1):
		return false
	}
	s.Counts[b%q5Ring] += c
	return true
}

// window returns the auction's count in the window starting at bucket w.
func (s *Q5Auction) window(w int64) int64 {
	var n int64
	for x := w; x < w+q5Size/q5Slide; x++ {
		if x <= s.Last && x > s.Last-q5Ring {
			n += s.Counts[x%q5Ring]
		}
	}
	return n
}

// q5AuctionCodec encodes Q5Auction states as 10 fixed-width integers.
type q5AuctionCodec struct{}

// Append appends v's 10 integers, little-endian.
func (q5AuctionCodec) Append(dst []byte, v Q5Auction) ([]byte, error) {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(v.Last))
	for _, c := range v.Counts {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(c))
	}
	return dst, nil
}

// Decode decodes one state from the front of src.
func (q5AuctionCodec) Decode(src []byte) (Q5Auction, int, error) {
	const n = 8 * (1 + q5Ring)
	if len(src) < n {
		return Q5Auction{}, 0, errors.New("benchsuite: q5 state: input too short")
	}
	v := Q5Auction{Last: int64(binary.LittleEndian.Uint64(src))}
	for i := range v.Counts {
		v.Counts[i] = int64(binary.LittleEndian.Uint64(src[8*(i+1):]))
	}
	return v, n, nil
}

// Q5Top is the state of q5's second stage: a window's highest count and
// the auctions that have it. Top is never changed in place (a checkpoint
// may be encoding it), only replaced.
type Q5Top struct {
	Max int64
	Top []int64
	V   int64 // updates merged so far (the version of the row)
}

// q5Window is an auction's count in one window.
type q5Window struct{ window, auction, count int64 }

func nexmarkQ5() streamSpec[Event, *NexmarkGenerator] {
	return nexmarkSpec(
		func(_ *NexmarkGenerator, in *dstream.DStream[Event], timeout time.Duration) (func() Result, error) {
			type bucketBid struct{ bucket, auction int64 }
			bids := dstream.Map(in.Filter(isBid), func(e Event) bucketBid {
				return bucketBid{bucket: e.Bid.DateTime / q5Slide, auction: e.Bid.Auction}
			})
			// Count per (bucket, auction) in the partition.
			partial := dstream.MapPartitions(bids, func(in iter.Seq[bucketBid]) iter.Seq[rdd.Pair[int64, [2]int64]] {
				return func(yield func(rdd.Pair[int64, [2]int64]) bool) {
					counts := map[bucketBid]int64{}
					for b := range in {
						counts[b]++
					}
					for b, c := range counts {
						if !yield(rdd.KV(b.auction, [2]int64{b.bucket, c})) {
							return
						}
					}
				}
			})
			// Stage 1: per auction, the counts of its recent buckets; each
			// update emits the auction's count in the 5 windows it changed.
			counts := dstream.MapWithState(partial, dstream.StateSpec[int64, [2]int64, Q5Auction, [q5Size / q5Slide]q5Window]{
				Func: func(_ time.Time, auction int64, bc [2]int64, st *dstream.State[Q5Auction]) (out [q5Size / q5Slide]q5Window) {
					if st.IsTimingOut() {
						return out
					}
					s := st.Get()
					if !s.add(bc[0], bc[1]) {
						panic(fmt.Errorf("q5: a batch spans more than %d s of event time; use smaller batches or a higher event rate", q5Size/1000))
					}
					_ = st.Update(s)
					for j := range out {
						w := bc[0] - int64(j)
						out[j] = q5Window{window: w, auction: auction, count: s.window(w)}
					}
					return out
				},
				Timeout:    timeout,
				StateCodec: q5AuctionCodec{},
			})
			// Per partition and window, the highest of the updated counts
			// and its auctions.
			tops := dstream.MapPartitions(counts.DStream.Name("q5-counts"), func(in iter.Seq[[q5Size / q5Slide]q5Window]) iter.Seq[rdd.Pair[int64, Q5Top]] {
				return func(yield func(rdd.Pair[int64, Q5Top]) bool) {
					windows := map[int64]*Q5Top{}
					for ws := range in {
						for _, w := range ws {
							if w.count <= 0 {
								continue
							}
							t := windows[w.window]
							if t == nil {
								t = &Q5Top{}
								windows[w.window] = t
							}
							switch {
							case w.count > t.Max:
								t.Max, t.Top = w.count, append(t.Top[:0], w.auction)
							case w.count == t.Max:
								t.Top = append(t.Top, w.auction)
							}
						}
					}
					for bucket, t := range windows {
						if !yield(rdd.KV(bucket*q5Slide, *t)) {
							return
						}
					}
				}
			})
			// Stage 2: per window, the highest count over all auctions.
			// Counts only grow, and an auction's count lives in one
			// partition of stage 1, so merging the partial tops is exact.
			updates := dstream.MapWithState(tops, dstream.StateSpec[int64, Q5Top, Q5Top, rdd.Pair[int64, versioned[Q5Row]]]{
				Func: func(_ time.Time, ws int64, p Q5Top, st *dstream.State[Q5Top]) rdd.Pair[int64, versioned[Q5Row]] {
					if st.IsTimingOut() {
						return rdd.KV(ws, versioned[Q5Row]{Version: -1})
					}
					s := st.Get()
					switch {
					case p.Max > s.Max:
						s.Max, s.Top = p.Max, slices.Clone(p.Top)
					case p.Max == s.Max:
						s.Top = slices.Concat(s.Top, p.Top)
					}
					s.V++
					_ = st.Update(s)
					top := slices.Clone(s.Top)
					slices.Sort(top)
					return rdd.KV(ws, versioned[Q5Row]{Version: s.V, Row: Q5Row{Num: s.Max, Auctions: top}})
				},
				Timeout: timeout,
			})
			table := newUpsertTable(hashQ5)
			if err := upsertOutput(updates.DStream.Name("q5-updates"), table); err != nil {
				return nil, err
			}
			return table.result, nil
		},
		func(_ context.Context, events iter.Seq[*Event]) (Result, error) {
			buckets := map[int64]map[int64]int64{}
			for e := range events {
				if e.Type != BidEvent {
					continue
				}
				b := e.Bid.DateTime / q5Slide
				m := buckets[b]
				if m == nil {
					m = map[int64]int64{}
					buckets[b] = m
				}
				m[e.Bid.Auction]++
			}
			windows := map[int64]*Q5State{}
			for _, b := range slices.Sorted(maps.Keys(buckets)) {
				for j := range int64(q5Size / q5Slide) {
					ws := (b - j) * q5Slide
					s := windows[ws]
					if s == nil {
						s = &Q5State{}
						windows[ws] = s
					}
					for a, c := range buckets[b] {
						s.add(a, c)
					}
				}
			}
			var acc accumulator
			for ws, s := range windows {
				acc.add(hashQ5(ws, s.row()))
			}
			return acc.result(), nil
		})
}

// q7: highest bid. Tumbling windows of 10 s over the bids' dateTime; per
// window, the bids with the highest price. Each partition keeps, per
// window, its highest price and the bids that have it; MapWithState
// (keyed by window start) merges them.
const q7Size = 10_000 // ms

// Q7Bid is a bid of q7's output.
type Q7Bid struct {
	Auction, Price, Bidder, DateTime int64
	Extra                            string
}

// Q7State is the state of one q7 window, and its result.
type Q7State struct {
	Max  int64
	Bids []Q7Bid // the bids at Max
	N    int64   // bids merged so far (the version of the row)
}

func (s *Q7State) add(b Q7Bid) {
	s.N++
	switch {
	case b.Price > s.Max || len(s.Bids) == 0:
		s.Max = b.Price
		s.Bids = append(s.Bids[:0], b)
	case b.Price == s.Max:
		s.Bids = append(s.Bids, b)
	}
}

// merge merges o into s without changing s.Bids in place (a checkpoint
// may be encoding the old state).
func (s *Q7State) merge(o Q7State) {
	switch {
	case len(o.Bids) == 0:
	case o.Max > s.Max || len(s.Bids) == 0:
		s.Max = o.Max
		s.Bids = slices.Clone(o.Bids)
	case o.Max == s.Max:
		s.Bids = slices.Concat(s.Bids, o.Bids)
	}
	s.N += o.N
}

func hashQ7(ws int64, s Q7State) uint64 {
	h := hashInts(ws, s.Max, int64(len(s.Bids)))
	for _, b := range s.Bids { // order-independent over the tied bids
		h += mix64(hashInts(b.Auction, b.Price, b.Bidder, b.DateTime) ^ hashString(b.Extra))
	}
	return h
}

func q7Bid(b *Bid) Q7Bid {
	return Q7Bid{Auction: b.Auction, Price: b.Price, Bidder: b.Bidder, DateTime: b.DateTime, Extra: b.Extra}
}

func nexmarkQ7() streamSpec[Event, *NexmarkGenerator] {
	return nexmarkSpec(
		func(_ *NexmarkGenerator, in *dstream.DStream[Event], timeout time.Duration) (func() Result, error) {
			partial := dstream.MapPartitions(in.Filter(isBid), func(in iter.Seq[Event]) iter.Seq[rdd.Pair[int64, Q7State]] {
				return func(yield func(rdd.Pair[int64, Q7State]) bool) {
					windows := map[int64]*Q7State{}
					for e := range in {
						ws := e.Bid.DateTime / q7Size * q7Size
						s := windows[ws]
						if s == nil {
							s = &Q7State{}
							windows[ws] = s
						}
						if len(s.Bids) == 0 || e.Bid.Price >= s.Max {
							s.add(q7Bid(&e.Bid))
						} else {
							s.N++
						}
					}
					for ws, s := range windows {
						if !yield(rdd.KV(ws, *s)) {
							return
						}
					}
				}
			})
			updates := dstream.MapWithState(partial, dstream.StateSpec[int64, Q7State, Q7State, rdd.Pair[int64, versioned[Q7State]]]{
				Func: func(_ time.Time, ws int64, p Q7State, st *dstream.State[Q7State]) rdd.Pair[int64, versioned[Q7State]] {
					if st.IsTimingOut() {
						return rdd.KV(ws, versioned[Q7State]{Version: -1})
					}
					s := st.Get()
					s.merge(p)
					_ = st.Update(s)
					return rdd.KV(ws, versioned[Q7State]{Version: s.N, Row: s})
				},
				Timeout: timeout,
			})
			table := newUpsertTable(hashQ7)
			if err := upsertOutput(updates.DStream.Name("q7-updates"), table); err != nil {
				return nil, err
			}
			return table.result, nil
		},
		func(_ context.Context, events iter.Seq[*Event]) (Result, error) {
			windows := map[int64]*Q7State{}
			for e := range events {
				if e.Type != BidEvent {
					continue
				}
				ws := e.Bid.DateTime / q7Size * q7Size
				s := windows[ws]
				if s == nil {
					s = &Q7State{}
					windows[ws] = s
				}
				if len(s.Bids) == 0 || e.Bid.Price >= s.Max {
					s.add(q7Bid(&e.Bid))
				} else {
					s.N++
				}
			}
			var acc accumulator
			for ws, s := range windows {
				acc.add(hashQ7(ws, *s))
			}
			return acc.result(), nil
		})
}
