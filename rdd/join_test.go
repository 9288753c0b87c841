package rdd

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/spate-io/spate/engine"
)

// This file tests Join, the outer joins, Cogroup and SubtractByKey against
// nested-loop implementations, and how joins choose their partitioning.

func kvNaiveJoin[K comparable, V, W any](a []Pair[K, V], b []Pair[K, W]) []Pair[K, Joined[V, W]] {
	var out []Pair[K, Joined[V, W]]
	for _, x := range a {
		for _, y := range b {
			if x.Key == y.Key {
				out = append(out, KV(x.Key, Joined[V, W]{x.Value, y.Value}))
			}
		}
	}
	return out
}

func kvNaiveLeftOuterJoin[K comparable, V, W any](a []Pair[K, V], b []Pair[K, W]) []Pair[K, Joined[V, Optional[W]]] {
	var out []Pair[K, Joined[V, Optional[W]]]
	for _, x := range a {
		matched := false
		for _, y := range b {
			if x.Key == y.Key {
				matched = true
				out = append(out, KV(x.Key, Joined[V, Optional[W]]{x.Value, Optional[W]{y.Value, true}}))
			}
		}
		if !matched {
			out = append(out, KV(x.Key, Joined[V, Optional[W]]{Left: x.Value}))
		}
	}
	return out
}

func kvNaiveRightOuterJoin[K comparable, V, W any](a []Pair[K, V], b []Pair[K, W]) []Pair[K, Joined[Optional[V], W]] {
	var out []Pair[K, Joined[Optional[V], W]]
	for _, y := range b {
		matched := false
		for _, x := range a {
			if x.Key == y.Key {
				matched = true
				out = append(out, KV(y.Key, Joined[Optional[V], W]{Optional[V]{x.Value, true}, y.Value}))
			}
		}
		if !matched {
			out = append(out, KV(y.Key, Joined[Optional[V], W]{Right: y.Value}))
		}
	}
	return out
}

func kvNaiveFullOuterJoin[K comparable, V, W any](a []Pair[K, V], b []Pair[K, W]) []Pair[K, Joined[Optional[V], Optional[W]]] {
	type row = Joined[Optional[V], Optional[W]]
	var out []Pair[K, row]
	for _, x := range a {
		matched := false
		for _, y := range b {
			if x.Key == y.Key {
				matched = true
				out = append(out, KV(x.Key, row{Optional[V]{x.Value, true}, Optional[W]{y.Value, true}}))
			}
		}
		if !matched {
			out = append(out, KV(x.Key, row{Left: Optional[V]{x.Value, true}}))
		}
	}
	for _, y := range b {
		if !slices.ContainsFunc(a, func(x Pair[K, V]) bool { return x.Key == y.Key }) {
			out = append(out, KV(y.Key, row{Right: Optional[W]{y.Value, true}}))
		}
	}
	return out
}

func kvNaiveSubtractByKey[K comparable, V, W any](a []Pair[K, V], b []Pair[K, W]) []Pair[K, V] {
	var out []Pair[K, V]
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y Pair[K, W]) bool { return x.Key == y.Key }) {
			out = append(out, x)
		}
	}
	return out
}

func kvNaiveCogroup[K comparable, V, W any](a []Pair[K, V], b []Pair[K, W]) []Pair[K, CoGrouped[V, W]] {
	var keys []K
	for _, x := range a {
		if !slices.Contains(keys, x.Key) {
			keys = append(keys, x.Key)
		}
	}
	for _, y := range b {
		if !slices.Contains(keys, y.Key) {
			keys = append(keys, y.Key)
		}
	}
	var out []Pair[K, CoGrouped[V, W]]
	for _, k := range keys {
		var g CoGrouped[V, W]
		for _, x := range a {
			if x.Key == k {
				g.Left = append(g.Left, x.Value)
			}
		}
		for _, y := range b {
			if y.Key == k {
				g.Right = append(g.Right, y.Value)
			}
		}
		out = append(out, KV(k, g))
	}
	return out
}

// kvSortedCogroups returns copies of groups with both value lists sorted
// and empty lists as nil.
func kvSortedCogroups[K comparable, V, W cmp.Ordered](groups []Pair[K, CoGrouped[V, W]]) []Pair[K, CoGrouped[V, W]] {
	out := make([]Pair[K, CoGrouped[V, W]], len(groups))
	for i, g := range groups {
		l, r := slices.Clone(g.Value.Left), slices.Clone(g.Value.Right)
		slices.Sort(l)
		slices.Sort(r)
		if len(l) == 0 {
			l = nil
		}
		if len(r) == 0 {
			r = nil
		}
		out[i] = KV(g.Key, CoGrouped[V, W]{l, r})
	}
	return out
}

// kvJoinLayout is a left input of int values and a right input of string
// values.
type kvJoinLayout struct {
	name        string
	left, right kvLayout
}

func (l kvJoinLayout) rightData() []Pair[int, string] {
	out := make([]Pair[int, string], len(l.right.data))
	for i, kv := range l.right.data {
		out[i] = KV(kv.Key, fmt.Sprint("w", kv.Value))
	}
	return out
}

func (l kvJoinLayout) rdds(ec *engine.Context) (*RDD[Pair[int, int]], *RDD[Pair[int, string]]) {
	right := Empty[Pair[int, string]](ec)
	if l.right.parts > 0 {
		right = Parallelize(ec, l.rightData(), l.right.parts)
	}
	return l.left.rdd(ec), right
}

func kvShiftKeys(in []Pair[int, int], by int) []Pair[int, int] {
	out := make([]Pair[int, int], len(in))
	for i, kv := range in {
		out[i] = KV(kv.Key+by, kv.Value)
	}
	return out
}

func kvJoinLayouts() []kvJoinLayout {
	hot := append(kvRandomPairs(31, 50, 100), KV(7, 1), KV(7, 2), KV(7, 3), KV(7, 4), KV(7, 5))
	return []kvJoinLayout{
		{"both empty, no partitions", kvLayout{"", 0, nil}, kvLayout{"", 0, nil}},
		{"left empty", kvLayout{"", 3, nil}, kvLayout{"", 2, kvRandomPairs(21, 100, 10)}},
		{"right empty", kvLayout{"", 4, kvRandomPairs(22, 100, 10)}, kvLayout{"", 0, nil}},
		{"one partition each", kvLayout{"", 1, kvRandomPairs(23, 150, 20)}, kvLayout{"", 1, kvRandomPairs(24, 100, 30)}},
		{"several partitions", kvLayout{"", 3, kvRandomPairs(25, 300, 40)}, kvLayout{"", 5, kvRandomPairs(26, 200, 50)}},
		{"more partitions than records", kvLayout{"", 10, kvRandomPairs(27, 4, 3)}, kvLayout{"", 7, kvRandomPairs(28, 6, 4)}},
		{"skewed", kvLayout{"", 4, kvSkewedPairs(29, 300)}, kvLayout{"", 3, hot}},
		{"disjoint keys", kvLayout{"", 2, kvRandomPairs(30, 100, 20)}, kvLayout{"", 3, kvShiftKeys(kvRandomPairs(32, 100, 20), 1000)}},
	}
}

// kvCheckResult checks a by-key result's partition count, key placement
// and contents (after norm, when not nil, on both sides).
func kvCheckResult[O any](t *testing.T, name string, r *RDD[Pair[int, O]], p Partitioner[int], want []Pair[int, O], norm func([]Pair[int, O]) []Pair[int, O]) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Helper()
		if got := r.NumPartitions(); got != p.NumPartitions() {
			t.Errorf("NumPartitions() = %d, want %d", got, p.NumPartitions())
		}
		parts := kvMustGlom(t, r)
		kvCheckPlacement(t, parts, p)
		got := slices.Concat(parts...)
		if norm != nil {
			got, want = norm(got), norm(want)
		}
		kvSameMultiset(t, got, want)
	})
}

func TestJoinOperations(t *testing.T) {
	ec := newEngine(t)
	for _, l := range kvJoinLayouts() {
		for _, m := range kvModes() {
			t.Run(l.name+"/"+m.name, func(t *testing.T) {
				a, b := l.rdds(ec)
				ad, bd := l.left.data, l.rightData()
				opts := m.opts(ec)
				p := m.partitioner(ec, max(l.left.parts, l.right.parts))
				kvCheckResult(t, "Join", Join(a, b, opts...), p, kvNaiveJoin(ad, bd), nil)
				kvCheckResult(t, "LeftOuterJoin", LeftOuterJoin(a, b, opts...), p, kvNaiveLeftOuterJoin(ad, bd), nil)
				kvCheckResult(t, "RightOuterJoin", RightOuterJoin(a, b, opts...), p, kvNaiveRightOuterJoin(ad, bd), nil)
				kvCheckResult(t, "FullOuterJoin", FullOuterJoin(a, b, opts...), p, kvNaiveFullOuterJoin(ad, bd), nil)
				kvCheckResult(t, "Cogroup", Cogroup(a, b, opts...), p, kvNaiveCogroup(ad, bd), kvSortedCogroups[int, int, string])
				kvCheckResult(t, "SubtractByKey", SubtractByKey(a, b, opts...), p, kvNaiveSubtractByKey(ad, bd), nil)
				kvCheckResult(t, "SubtractByKey reversed", SubtractByKey(b, a, opts...), p, kvNaiveSubtractByKey(bd, ad), nil)
			})
		}
	}
}

// TestJoinMissingSides checks the Optional of each outer join's missing
// side directly: absent values are invalid and zero, present ones valid.
func TestJoinMissingSides(t *testing.T) {
	ec := newEngine(t)
	ctx := testCtx(t)
	a := Parallelize(ec, []Pair[string, int]{KV("both", 1), KV("left", 2), KV("zero", 0)}, 2)
	b := Parallelize(ec, []Pair[string, string]{KV("both", "x"), KV("right", "y"), KV("zero", "")}, 3)

	full, err := FullOuterJoin(a, b).Collect(ctx)
	if err != nil {
		t.Fatalf("FullOuterJoin: %v", err)
	}
	got := map[string]Joined[Optional[int], Optional[string]]{}
	for _, kv := range full {
		if _, dup := got[kv.Key]; dup {
			t.Errorf("key %q twice", kv.Key)
		}
		got[kv.Key] = kv.Value
	}
	want := map[string]Joined[Optional[int], Optional[string]]{
		"both":  {Some(1), Some("x")},
		"left":  {Left: Some(2)},
		"right": {Right: Some("y")},
		// Zero values that are present are valid.
		"zero": {Optional[int]{0, true}, Optional[string]{"", true}},
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("FullOuterJoin[%q] = %+v (present: %v), want %+v", k, g, ok, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("FullOuterJoin has %d keys, want %d", len(got), len(want))
	}

	left, err := LeftOuterJoin(a, b).Collect(ctx)
	if err != nil {
		t.Fatalf("LeftOuterJoin: %v", err)
	}
	for _, kv := range left {
		if valid := kv.Key != "left"; kv.Value.Right.Valid != valid || (!valid && kv.Value.Right.Value != "") {
			t.Errorf("LeftOuterJoin row %+v: right side Valid = %v, want %v", kv, kv.Value.Right.Valid, valid)
		}
	}
	right, err := RightOuterJoin(a, b).Collect(ctx)
	if err != nil {
		t.Fatalf("RightOuterJoin: %v", err)
	}
	for _, kv := range right {
		if valid := kv.Key != "right"; kv.Value.Left.Valid != valid || (!valid && kv.Value.Left.Value != 0) {
			t.Errorf("RightOuterJoin row %+v: left side Valid = %v, want %v", kv, kv.Value.Left.Valid, valid)
		}
	}
	if len(left) != 3 || len(right) != 3 {
		t.Errorf("LeftOuterJoin has %d rows, RightOuterJoin %d, want 3 each", len(left), len(right))
	}
}

// TestJoinDefaultPartitioning checks that a join without options reuses a
// parent's partitioner, or else hashes into as many partitions as the
// larger parent has.
func TestJoinDefaultPartitioning(t *testing.T) {
	ec := newEngine(t)
	ad, bd := kvRandomPairs(40, 200, 30), kvRandomPairs(41, 150, 30)
	a, b := Parallelize(ec, ad, 3), Parallelize(ec, bd, 8)
	mod := kvModPartitioner{3}
	pa := PartitionBy(a, WithPartitioner[int](mod))
	want := kvNaiveJoin(ad, bd)

	kvCheckResult(t, "neither partitioned", Join(a, b), HashPartitioner[int](ec, 8), want, nil)
	kvCheckResult(t, "left partitioned", Join(pa, b), mod, want, nil)
	kvCheckResult(t, "right partitioned", Join(b, pa), mod, kvNaiveJoin(bd, ad), nil)
	kvCheckResult(t, "after a reduce", Join(ReduceByKey(a, kvAdd, NumPartitions(2)), b), HashPartitioner[int](ec, 2),
		kvNaiveJoin(kvNaiveReduceByKey(ad, kvAdd), bd), nil)
	kvCheckResult(t, "explicit option over a parent's partitioner", Join(pa, b, NumPartitions(5)), HashPartitioner[int](ec, 5), want, nil)

	// Both partitioned differently: either partitioner will do, but the
	// placement must follow the one chosen.
	pb := PartitionBy(b, NumPartitions(6))
	j := Join(pa, pb)
	var p Partitioner[int] = mod
	if j.NumPartitions() != mod.NumPartitions() {
		p = HashPartitioner[int](ec, 6)
	}
	kvCheckResult(t, "both partitioned", j, p, want, nil)
}

// TestJoinSortedInput joins RDDs produced by SortByKey, whose range
// partitioner is only known once the sort's sampling job has run.
func TestJoinSortedInput(t *testing.T) {
	ec := newEngine(t)
	ad, bd := kvRandomPairs(50, 500, 60), kvRandomPairs(51, 300, 60)
	for i := range 5 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			a, b := Parallelize(ec, ad, 4), Parallelize(ec, bd, 3)
			sa, sb := SortByKey(a, true, NumPartitions(4)), SortByKey(b, false, NumPartitions(3))
			check := func(name string, got []Pair[int, Joined[int, int]], err error, want []Pair[int, Joined[int, int]]) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(got) != len(want) {
					t.Errorf("%s: %d rows, want %d", name, len(got), len(want))
				}
				kvSameMultiset(t, got, want)
			}
			got, err := Join(sa, b).Collect(testCtx(t))
			check("Join(sorted, b)", got, err, kvNaiveJoin(ad, bd))
			got, err = Join(a, sb).Collect(testCtx(t))
			check("Join(a, sorted)", got, err, kvNaiveJoin(ad, bd))
			got, err = Join(sa, sb).Collect(testCtx(t))
			check("Join(sorted, sorted)", got, err, kvNaiveJoin(ad, bd))
			sub, err := SubtractByKey(b, sa).Collect(testCtx(t))
			if err != nil {
				t.Fatalf("SubtractByKey: %v", err)
			}
			kvSameMultiset(t, sub, kvNaiveSubtractByKey(bd, ad))
			red, err := ReduceByKey(sa, kvAdd).Collect(testCtx(t))
			if err != nil {
				t.Fatalf("ReduceByKey: %v", err)
			}
			kvSameMultiset(t, red, kvNaiveReduceByKey(ad, kvAdd))
		})
	}
}
