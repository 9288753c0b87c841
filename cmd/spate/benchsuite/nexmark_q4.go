package benchsuite

import (
	"context"
	"encoding/binary"
	"errors"
	"iter"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/rdd"
)

// q4: average price per category. Each auction's final price is its
// highest bid placed while it was open; the result is the average final
// price per category (over the auctions with at least one such bid):
//
//	SELECT Q.category, AVG(Q.final) FROM (
//	  SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
//	  WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
//	  GROUP BY A.id, A.category) Q GROUP BY Q.category
//
// The DStream pipeline keeps, per partition, the highest bid per auction
// and ms, keys auctions and bids by auction id; a first
// MapWithState keeps each auction (and the bids that came before it) and
// emits the change of its final price; a second one, keyed by category,
// adds the changes up into a sum and a count. The result is, per
// category, that sum and count (the average is sum ÷ count).

// q4Side is an auction (Auction true) or a bid.
type q4Side struct {
	Auction         bool
	Category        int64
	Start, Expires  int64 // the auction's dateTime and expires
	Price, DateTime int64 // the bid's
}

// Q4Auction is the state of one auction id: the auction once seen, the
// bids that came before it, and its final price so far. Pending only
// grows at its end until the auction arrives.
type Q4Auction struct {
	Seen           bool
	Category       int64
	Start, Expires int64
	Final          int64 // highest valid bid; 0: none yet
	Pending        [][2]int64
}

// q4AuctionCodec encodes Q4Auction states for checkpoints as varints
// (the default codec, gob, costs several times more per state and made
// q4's checkpoint batches its slowest).
type q4AuctionCodec struct{}

// Append appends v: a flags byte (bit 0: Seen), Category, Start, Expires,
// Final, the number of pending bids, then each bid's price and dateTime.
func (q4AuctionCodec) Append(dst []byte, v Q4Auction) ([]byte, error) {
	var flags byte
	if v.Seen {
		flags = 1
	}
	dst = append(dst, flags)
	for _, x := range [...]int64{v.Category, v.Start, v.Expires, v.Final, int64(len(v.Pending))} {
		dst = binary.AppendVarint(dst, x)
	}
	for _, b := range v.Pending {
		dst = binary.AppendVarint(binary.AppendVarint(dst, b[0]), b[1])
	}
	return dst, nil
}

// errQ4State is returned for a truncated or damaged q4 state.
var errQ4State = errors.New("benchsuite: q4 state: truncated or damaged")

// Decode decodes one state from the front of src.
func (q4AuctionCodec) Decode(src []byte) (Q4Auction, int, error) {
	if len(src) == 0 || src[0] > 1 {
		return Q4Auction{}, 0, errQ4State
	}
	v := Q4Auction{Seen: src[0] == 1}
	at := 1
	next := func() (int64, bool) {
		x, n := binary.Varint(src[at:])
		if n <= 0 {
			return 0, false
		}
		at += n
		return x, true
	}
	var fields [5]int64
	for i := range fields {
		x, ok := next()
		if !ok {
			return Q4Auction{}, 0, errQ4State
		}
		fields[i] = x
	}
	v.Category, v.Start, v.Expires, v.Final = fields[0], fields[1], fields[2], fields[3]
	pending := fields[4]
	if pending < 0 || pending > int64(len(src)-at)/2 { // each bid takes ≥ 2 bytes
		return Q4Auction{}, 0, errQ4State
	}
	if pending > 0 {
		v.Pending = make([][2]int64, pending)
	}
	for i := range v.Pending {
		price, ok1 := next()
		ts, ok2 := next()
		if !ok1 || !ok2 {
			return Q4Auction{}, 0, errQ4State
		}
		v.Pending[i] = [2]int64{price, ts}
	}
	return v, at, nil
}

// q4Delta is a change of one category's sum of final prices and number of
// auctions with a final price.
type q4Delta struct{ Sum, Count int64 }

// q4Apply applies one side to an auction's state and returns the change
// of its category's figures (ok false: none).
func q4Apply(s Q4Auction, v q4Side) (Q4Auction, int64, q4Delta, bool) {
	old := s.Final
	bid := func(price, at int64) {
		if at >= s.Start && at <= s.Expires && price > s.Final {
			s.Final = price
		}
	}
	if v.Auction {
		s.Seen, s.Category, s.Start, s.Expires = true, v.Category, v.Start, v.Expires
		for _, b := range s.Pending {
			bid(b[0], b[1])
		}
		s.Pending = nil
	} else if s.Seen {
		bid(v.Price, v.DateTime)
	} else {
		// Appending may write past the end of an older state's slice,
		// never into it, so a checkpoint encoding that state is safe.
		s.Pending = append(s.Pending, [2]int64{v.Price, v.DateTime})
	}
	if s.Final == old {
		return s, 0, q4Delta{}, false
	}
	d := q4Delta{Sum: s.Final - old}
	if old == 0 {
		d.Count = 1
	}
	return s, s.Category, d, true
}

// q4Sides returns the join input of an event.
func q4Sides(e *Event) (int64, q4Side, bool) {
	switch e.Type {
	case AuctionEvent:
		a := e.Auction
		return a.ID, q4Side{Auction: true, Category: a.Category, Start: a.DateTime, Expires: a.Expires}, true
	case BidEvent:
		return e.Bid.Auction, q4Side{Price: e.Bid.Price, DateTime: e.Bid.DateTime}, true
	}
	return 0, q4Side{}, false
}

func hashQ4(category int64, d q4Delta) uint64 { return hashInts(category, d.Sum, d.Count) }

func nexmarkQ4() streamSpec[Event, *NexmarkGenerator] {
	return nexmarkSpec(
		func(_ *NexmarkGenerator, in *dstream.DStream[Event], _ time.Duration) (func() Result, error) {
			// Bids of one auction at the same ms are alike but for their
			// price (validity goes by dateTime), so each partition keeps
			// only the highest of them: an exact pre-aggregation.
			sides := dstream.MapPartitions(in.Filter(func(e Event) bool { return e.Type != PersonEvent }), func(in iter.Seq[Event]) iter.Seq[rdd.Pair[int64, q4Side]] {
				return func(yield func(rdd.Pair[int64, q4Side]) bool) {
					type at struct{ auction, ms int64 }
					best := map[at]int64{}
					for e := range in {
						if e.Type == BidEvent {
							k := at{e.Bid.Auction, e.Bid.DateTime}
							best[k] = max(best[k], e.Bid.Price)
							continue
						}
						k, v, _ := q4Sides(&e)
						if !yield(rdd.KV(k, v)) {
							return
						}
					}
					for k, price := range best {
						if !yield(rdd.KV(k.auction, q4Side{Price: price, DateTime: k.ms})) {
							return
						}
					}
				}
			})
			type change struct {
				category int64
				delta    q4Delta
				ok       bool
			}
			changes := dstream.MapWithState(sides, dstream.StateSpec[int64, q4Side, Q4Auction, change]{
				StateCodec: q4AuctionCodec{},
				Func: func(_ time.Time, _ int64, v q4Side, st *dstream.State[Q4Auction]) change {
					s, c, d, ok := q4Apply(st.Get(), v)
					_ = st.Update(s)
					return change{c, d, ok}
				},
			})
			// Add the changes up per category in each partition first.
			partial := dstream.MapPartitions(changes.DStream.Name("q4-auctions"), func(in iter.Seq[change]) iter.Seq[rdd.Pair[int64, q4Delta]] {
				return func(yield func(rdd.Pair[int64, q4Delta]) bool) {
					sums := map[int64]q4Delta{}
					for c := range in {
						if c.ok {
							s := sums[c.category]
							sums[c.category] = q4Delta{s.Sum + c.delta.Sum, s.Count + c.delta.Count}
						}
					}
					for c, d := range sums {
						if !yield(rdd.KV(c, d)) {
							return
						}
					}
				}
			})
			type total struct {
				Sum, Count, V int64
			}
			updates := dstream.MapWithState(partial, dstream.StateSpec[int64, q4Delta, total, rdd.Pair[int64, versioned[q4Delta]]]{
				Func: func(_ time.Time, c int64, d q4Delta, st *dstream.State[total]) rdd.Pair[int64, versioned[q4Delta]] {
					t := st.Get()
					t = total{t.Sum + d.Sum, t.Count + d.Count, t.V + 1}
					_ = st.Update(t)
					return rdd.KV(c, versioned[q4Delta]{Version: t.V, Row: q4Delta{t.Sum, t.Count}})
				},
			})
			table := newUpsertTable(hashQ4)
			if err := upsertOutput(updates.DStream.Name("q4-categories"), table); err != nil {
				return nil, err
			}
			return table.result, nil
		},
		func(_ context.Context, events iter.Seq[*Event]) (Result, error) {
			auctions := map[int64]Q4Auction{}
			categories := map[int64]q4Delta{}
			for e := range events {
				k, v, ok := q4Sides(e)
				if !ok {
					continue
				}
				s, c, d, changed := q4Apply(auctions[k], v)
				auctions[k] = s
				if changed {
					t := categories[c]
					categories[c] = q4Delta{t.Sum + d.Sum, t.Count + d.Count}
				}
			}
			var a accumulator
			for c, d := range categories {
				a.add(hashQ4(c, d))
			}
			return a.result(), nil
		})
}
