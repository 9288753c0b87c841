package benchsuite

import (
	"context"
	"iter"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/rdd"
)

// q3: local item suggestion. Auctions of category 10 joined with their
// sellers, for sellers in Oregon, Idaho or California:
//
//	SELECT P.name, P.city, P.state, A.id FROM auction A JOIN person P ON A.seller = P.id
//	WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA')
//
// An unwindowed inner join: every match is emitted once, whichever side
// comes first. The DStream pipeline keys both sides by person id and keeps,
// per person (MapWithState), the person once seen and the auctions that
// arrived before it.

// q3Side is one side of the join: a person (Name set) or an auction.
type q3Side struct {
	Person  bool
	Name    string
	City    string
	State   string
	Auction int64
}

// Q3Seller is the join state of one person id: the person, once seen, and
// the auctions waiting for it. It is replaced, never changed in place.
type Q3Seller struct {
	Seen    bool
	Name    string
	City    string
	State   string
	Pending []int64
}

// Q3Row is one result row.
type Q3Row struct {
	Name, City, State string
	Auction           int64
}

func hashQ3(r Q3Row) uint64 {
	return mix64(hashString(r.Name) ^ mix64(hashString(r.City)^hashString(r.State)) ^ uint64(r.Auction)*0x9e3779b97f4a7c15)
}

func q3Person(p *Person) bool { return p.State == "OR" || p.State == "ID" || p.State == "CA" }

func q3Auction(a *Auction) bool { return a.Category == 10 }

// q3Join applies one side to a seller's state and returns the new state
// and the rows it completes.
func q3Join(s Q3Seller, v q3Side) (Q3Seller, []Q3Row) {
	if v.Person {
		rows := make([]Q3Row, len(s.Pending))
		for i, a := range s.Pending {
			rows[i] = Q3Row{Name: v.Name, City: v.City, State: v.State, Auction: a}
		}
		return Q3Seller{Seen: true, Name: v.Name, City: v.City, State: v.State}, rows
	}
	if s.Seen {
		return s, []Q3Row{{Name: s.Name, City: s.City, State: s.State, Auction: v.Auction}}
	}
	// Appending may write past the end of an older state's slice, never
	// into it, so a checkpoint encoding that state is safe.
	s.Pending = append(s.Pending, v.Auction)
	return s, nil
}

// q3Sides returns the join inputs of an event, keyed by person id.
func q3Sides(e *Event) (int64, q3Side, bool) {
	switch e.Type {
	case PersonEvent:
		if p := e.Person; q3Person(p) {
			return p.ID, q3Side{Person: true, Name: p.Name, City: p.City, State: p.State}, true
		}
	case AuctionEvent:
		if a := e.Auction; q3Auction(a) {
			return a.Seller, q3Side{Auction: a.ID}, true
		}
	}
	return 0, q3Side{}, false
}

func nexmarkQ3() streamSpec[Event, *NexmarkGenerator] {
	return nexmarkSpec(
		func(_ *NexmarkGenerator, in *dstream.DStream[Event], _ time.Duration) (func() Result, error) {
			sides := dstream.FlatMap(in.Filter(func(e Event) bool { return e.Type != BidEvent }), func(e Event) []rdd.Pair[int64, q3Side] {
				if k, v, ok := q3Sides(&e); ok {
					return []rdd.Pair[int64, q3Side]{rdd.KV(k, v)}
				}
				return nil
			})
			joined := dstream.MapWithState(sides, dstream.StateSpec[int64, q3Side, Q3Seller, []Q3Row]{
				Func: func(_ time.Time, _ int64, v q3Side, st *dstream.State[Q3Seller]) []Q3Row {
					s, rows := q3Join(st.Get(), v)
					_ = st.Update(s)
					return rows
				},
			})
			rows := dstream.FlatMap(joined.DStream.Name("q3-joined"), func(rs []Q3Row) []Q3Row { return rs })
			var b blackhole
			if err := blackholeOutput(rows, hashQ3, &b); err != nil {
				return nil, err
			}
			return b.result, nil
		},
		func(_ context.Context, events iter.Seq[*Event]) (Result, error) {
			sellers := map[int64]Q3Seller{}
			var a accumulator
			for e := range events {
				k, v, ok := q3Sides(e)
				if !ok {
					continue
				}
				s, rows := q3Join(sellers[k], v)
				sellers[k] = s
				for _, r := range rows {
					a.add(hashQ3(r))
				}
			}
			return a.result(), nil
		})
}
