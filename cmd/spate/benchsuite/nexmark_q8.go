package benchsuite

import (
	"context"
	"iter"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/rdd"
)

// q8: monitor new users. The people who opened an auction in the same
// 10 s tumbling window in which they joined:
//
//	SELECT P.id, P.name, P.starttime FROM (persons per 10 s window) P
//	JOIN (sellers per 10 s window) A ON P.id = A.seller AND P.starttime = A.starttime
//
// The DStream pipeline keys both sides by (window, person id) and keeps,
// per key (MapWithState), what has been seen; a row is emitted once, when
// both sides have been seen. State times out like the other windows'.
const q8Size = 10_000 // ms

// q8Key packs a window (by its number) and a person id into one int64.
func q8Key(window, person int64) int64 { return window<<32 | person&0xffffffff }

// Q8Seen is the state of one (window, person): the person's name once
// seen, whether an auction of theirs was seen, and whether the row was
// emitted.
type Q8Seen struct {
	Name    string
	Person  bool
	Auction bool
}

// Q8Row is one result row.
type Q8Row struct {
	ID, Start int64
	Name      string
}

func hashQ8(r Q8Row) uint64 { return mix64(hashInts(r.ID, r.Start) ^ hashString(r.Name)) }

// q8Side is a person (Name set, Person true) or an auction's seller.
type q8Side struct {
	Person bool
	Name   string
}

// q8Sides returns the join input of an event.
func q8Sides(e *Event) (int64, q8Side, bool) {
	switch e.Type {
	case PersonEvent:
		return q8Key(e.Person.DateTime/q8Size, e.Person.ID), q8Side{Person: true, Name: e.Person.Name}, true
	case AuctionEvent:
		return q8Key(e.Auction.DateTime/q8Size, e.Auction.Seller), q8Side{}, true
	}
	return 0, q8Side{}, false
}

// q8Join applies one side; row is set when the key just became complete.
func q8Join(key int64, s Q8Seen, v q8Side) (Q8Seen, *Q8Row) {
	was := s.Person && s.Auction
	if v.Person {
		s.Person, s.Name = true, v.Name
	} else {
		s.Auction = true
	}
	if !was && s.Person && s.Auction {
		return s, &Q8Row{ID: key & 0xffffffff, Start: (key >> 32) * q8Size, Name: s.Name}
	}
	return s, nil
}

func nexmarkQ8() streamSpec[Event, *NexmarkGenerator] {
	return nexmarkSpec(
		func(_ *NexmarkGenerator, in *dstream.DStream[Event], timeout time.Duration) (func() Result, error) {
			sides := dstream.FlatMap(in.Filter(func(e Event) bool { return e.Type != BidEvent }), func(e Event) []rdd.Pair[int64, q8Side] {
				if k, v, ok := q8Sides(&e); ok {
					return []rdd.Pair[int64, q8Side]{rdd.KV(k, v)}
				}
				return nil
			})
			joined := dstream.MapWithState(sides, dstream.StateSpec[int64, q8Side, Q8Seen, *Q8Row]{
				Func: func(_ time.Time, k int64, v q8Side, st *dstream.State[Q8Seen]) *Q8Row {
					if st.IsTimingOut() {
						return nil
					}
					s, row := q8Join(k, st.Get(), v)
					_ = st.Update(s)
					return row
				},
				Timeout: timeout,
			})
			rows := dstream.Map(joined.DStream.Name("q8-joined").Filter(func(r *Q8Row) bool { return r != nil }), func(r *Q8Row) Q8Row { return *r })
			var b blackhole
			if err := blackholeOutput(rows, hashQ8, &b); err != nil {
				return nil, err
			}
			return b.result, nil
		},
		func(_ context.Context, events iter.Seq[*Event]) (Result, error) {
			seen := map[int64]Q8Seen{}
			var a accumulator
			for e := range events {
				k, v, ok := q8Sides(e)
				if !ok {
					continue
				}
				s, row := q8Join(k, seen[k], v)
				seen[k] = s
				if row != nil {
					a.add(hashQ8(*row))
				}
			}
			return a.result(), nil
		})
}
