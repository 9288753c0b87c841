package expr

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The aggregate functions.
const (
	AggCount         = "count"
	AggCountDistinct = "count_distinct"
	AggSum           = "sum"
	AggAvg           = "avg"
	AggMin           = "min"
	AggMax           = "max"
	AggFirst         = "first"
	AggLast          = "last"
	AggCollectList   = "collect_list"
)

// AggFuncs lists the aggregate functions.
var aggFuncs = []string{AggCount, AggCountDistinct, AggSum, AggAvg, AggMin, AggMax, AggFirst, AggLast, AggCollectList}

// AggFuncNames returns the names of the aggregate functions.
func AggFuncNames() []string { return append([]string{}, aggFuncs...) }

// AggExpr is an aggregate function call. It is only valid as an output of
// an aggregation; evaluating it row by row is an error. Arg is nil for
// count(*).
type AggExpr struct {
	Func string
	Arg  Expr
}

// NewAgg returns the aggregate fn(arg); arg nil means count(*).
func NewAgg(fn string, arg Expr) *AggExpr { return &AggExpr{Func: fn, Arg: arg} }

// Count returns count(e) (non-null values) or, for e nil, count(*).
func Count(e Expr) *AggExpr { return NewAgg(AggCount, e) }

// CountDistinct returns count(DISTINCT e).
func CountDistinct(e Expr) *AggExpr { return NewAgg(AggCountDistinct, e) }

// Sum returns sum(e): int64 for integers, float64 for floats; null for a
// group without non-null values. Integer sums wrap on overflow.
func Sum(e Expr) *AggExpr { return NewAgg(AggSum, e) }

// Avg returns avg(e) as float64.
func Avg(e Expr) *AggExpr { return NewAgg(AggAvg, e) }

// Min returns min(e).
func Min(e Expr) *AggExpr { return NewAgg(AggMin, e) }

// Max returns max(e).
func Max(e Expr) *AggExpr { return NewAgg(AggMax, e) }

// First returns first(e): the value (possibly null) of the first row of
// the group in input order.
func First(e Expr) *AggExpr { return NewAgg(AggFirst, e) }

// Last returns last(e).
func Last(e Expr) *AggExpr { return NewAgg(AggLast, e) }

// CollectList returns collect_list(e): the non-null values as a list.
func CollectList(e Expr) *AggExpr { return NewAgg(AggCollectList, e) }

// String implements Expr.
func (a *AggExpr) String() string {
	switch {
	case a.Arg == nil:
		return "count(1)"
	case a.Func == AggCountDistinct:
		return fmt.Sprintf("count(DISTINCT %s)", a.Arg)
	}
	return fmt.Sprintf("%s(%s)", a.Func, a.Arg)
}

// Children implements Expr.
func (a *AggExpr) Children() []Expr {
	if a.Arg == nil {
		return nil
	}
	return []Expr{a.Arg}
}

// WithChildren implements Expr.
func (a *AggExpr) WithChildren(c []Expr) (Expr, error) {
	if a.Arg == nil {
		return a, wantChildren(a.Func, c, 0)
	}
	if err := wantChildren(a.Func, c, 1); err != nil {
		return nil, err
	}
	return &AggExpr{a.Func, c[0]}, nil
}

// Eval fails: aggregates are computed by the aggregation operator.
func (a *AggExpr) Eval(*EvalContext, arrow.RecordBatch) (arrow.Array, error) {
	return nil, fmt.Errorf("%w: %s can only be computed by an aggregation (GroupBy(...).Agg)", ErrAggregate, a)
}

// Resolve returns the type of the aggregate's result.
func (a *AggExpr) Resolve(s *arrow.Schema) (Type, error) {
	if a.Arg == nil {
		if a.Func != AggCount {
			return Type{}, fmt.Errorf("%w: %s needs an argument", ErrInvalid, a.Func)
		}
		return Type{int64Type, false}, nil
	}
	if IsAggregate(a.Arg) {
		return Type{}, fmt.Errorf("%w: aggregate %s inside aggregate %s", ErrAggregate, a.Arg, a.Func)
	}
	t, err := resolveChild(a.Arg, s)
	if err != nil {
		return Type{}, err
	}
	dt := t.DataType
	switch a.Func {
	case AggCount, AggCountDistinct:
		return Type{int64Type, false}, nil
	case AggSum:
		switch {
		case IsInteger(dt), isNull(dt):
			return Type{int64Type, true}, nil
		case IsFloat(dt):
			return Type{float64Type, true}, nil
		}
		return Type{}, fmt.Errorf("%w: sum needs a numeric argument, got %s (%s)", ErrType, a.Arg, dt)
	case AggAvg:
		if !IsNumeric(dt) && !isNull(dt) {
			return Type{}, fmt.Errorf("%w: avg needs a numeric argument, got %s (%s)", ErrType, a.Arg, dt)
		}
		return Type{float64Type, true}, nil
	case AggMin, AggMax, AggFirst, AggLast:
		if _, ok := canonicalType(dt); !ok {
			return Type{}, fmt.Errorf("%w: %s does not support %s (%s)", ErrType, a.Func, a.Arg, dt)
		}
		return Type{dt, true}, nil
	case AggCollectList:
		if _, ok := canonicalType(dt); !ok {
			return Type{}, fmt.Errorf("%w: collect_list does not support %s (%s)", ErrType, a.Arg, dt)
		}
		return Type{arrow.ListOf(dt), false}, nil
	}
	return Type{}, fmt.Errorf("%w: unknown aggregate function %q; supported: %s", ErrInvalid, a.Func, strings.Join(aggFuncs, ", "))
}

// canonicalType is the type accumulators keep values in: int64 for
// integers, timestamps and dates, float64 for floats, string, bool.
func canonicalType(dt arrow.DataType) (arrow.DataType, bool) {
	switch {
	case IsInteger(dt), dt.ID() == arrow.TIMESTAMP, dt.ID() == arrow.DATE32, isNull(dt):
		return int64Type, true
	case IsFloat(dt):
		return float64Type, true
	case isString(dt):
		return stringType, true
	case dt.ID() == arrow.BOOL:
		return boolType, true
	}
	return nil, false
}

// canonical converts a to its canonical type.
func canonical(ec *EvalContext, a arrow.Array) (arrow.Array, error) {
	dt := a.DataType()
	switch dt.ID() {
	case arrow.TIMESTAMP:
		return reinterpret(a, int64Type), nil
	case arrow.DATE32:
		i32 := reinterpret(a, int32Type)
		defer i32.Release()
		return castTo(ec, i32, int64Type)
	case arrow.LARGE_STRING:
		return castTo(ec, a, stringType)
	}
	ct, ok := canonicalType(dt)
	if !ok {
		return nil, fmt.Errorf("%w: no aggregation over %s", ErrType, dt)
	}
	return castTo(ec, a, ct)
}

// restore converts a canonical array back to dt.
func restore(ec *EvalContext, a arrow.Array, dt arrow.DataType) (arrow.Array, error) {
	switch dt.ID() {
	case arrow.TIMESTAMP:
		return reinterpret(a, dt), nil
	case arrow.DATE32:
		i32, err := castTo(ec, a, int32Type)
		if err != nil {
			return nil, err
		}
		defer i32.Release()
		return reinterpret(i32, dt), nil
	case arrow.NULL:
		return array.MakeArrayOfNull(ec.Alloc, dt, a.Len()), nil
	}
	return castTo(ec, a, dt)
}

// reinterpret views a fixed-width array as another type of the same width.
func reinterpret(a arrow.Array, dt arrow.DataType) arrow.Array {
	d := a.Data()
	nd := array.NewData(dt, d.Len(), d.Buffers(), nil, d.NullN(), d.Offset())
	defer nd.Release()
	return array.MakeFromData(nd)
}

// Accumulator computes one aggregate for many groups at once. Group ids
// are dense, 0 to numGroups-1; every call passes the current number of
// groups so the accumulator can grow its state. It runs in two phases:
// partial accumulators Update from input rows and hand out their State
// (one row per group); final accumulators Merge those states and give the
// Final values. Accumulators are owned by one task.
type Accumulator interface {
	// Update folds arg (the evaluated argument; nil for count(*)) of n
	// rows into their groups.
	Update(ec *EvalContext, groups []uint32, numGroups int, arg arrow.Array) error
	// StateTypes are the types of the partial state columns.
	StateTypes() []arrow.DataType
	// State returns the partial state, one row per group.
	State(ec *EvalContext) ([]arrow.Array, error)
	// Merge folds partial state rows into their groups.
	Merge(ec *EvalContext, groups []uint32, numGroups int, state []arrow.Array) error
	// Final returns the aggregate's value per group.
	Final(ec *EvalContext) (arrow.Array, error)
}

// NewAccumulator returns an accumulator for a, whose argument has type
// argType (ignored for count(*)).
func NewAccumulator(a *AggExpr, in *arrow.Schema) (Accumulator, error) {
	t, err := a.Resolve(in)
	if err != nil {
		return nil, err
	}
	var argType arrow.DataType
	if a.Arg != nil {
		at, _ := a.Arg.Resolve(in)
		argType = at.DataType
	}
	switch a.Func {
	case AggCount:
		return &countAcc{star: a.Arg == nil}, nil
	case AggSum:
		if t.DataType.ID() == arrow.INT64 {
			return &sumAcc[int64]{dt: int64Type}, nil
		}
		return &sumAcc[float64]{dt: float64Type}, nil
	case AggAvg:
		return &avgAcc{}, nil
	}
	ct, _ := canonicalType(argType)
	switch ct.ID() {
	case arrow.INT64:
		return newValueAcc[int64](a.Func, argType, t.DataType, ct), nil
	case arrow.FLOAT64:
		return newValueAcc[float64](a.Func, argType, t.DataType, ct), nil
	case arrow.STRING:
		return newValueAcc[string](a.Func, argType, t.DataType, ct), nil
	case arrow.BOOL:
		return newValueAcc[bool](a.Func, argType, t.DataType, ct), nil
	}
	return nil, fmt.Errorf("%w: no accumulator for %s", ErrType, a)
}

func grow[T any](s []T, n int) []T {
	if len(s) >= n {
		return s
	}
	if cap(s) >= n {
		return s[:n]
	}
	out := make([]T, n, max(n, 2*cap(s)))
	copy(out, s)
	return out
}

func fixedArray[T int64 | float64](alloc memory.Allocator, dt arrow.DataType, vals []T, has []bool) arrow.Array {
	n := len(vals)
	buf, out := newFixedBuf[T](alloc, n)
	copy(out, vals)
	var valid *memory.Buffer
	nulls := 0
	if has != nil {
		valid = memory.NewResizableBuffer(alloc)
		valid.Resize(int(bitmapBytes(n)))
		bits := valid.Bytes()
		clear(bits)
		for i, h := range has {
			if h {
				bits[i>>3] |= 1 << (i & 7)
			} else {
				nulls++
			}
		}
	}
	return makeArray(dt, n, valid, buf, nulls)
}

// countAcc counts rows (count(*)) or non-null values.
type countAcc struct {
	star   bool
	counts []int64
}

func (c *countAcc) Update(_ *EvalContext, groups []uint32, n int, arg arrow.Array) error {
	c.counts = grow(c.counts, n)
	if c.star || arg.NullN() == 0 {
		for _, g := range groups {
			c.counts[g]++
		}
		return nil
	}
	if isNull(arg.DataType()) {
		return nil
	}
	for i, g := range groups {
		if arg.IsValid(i) {
			c.counts[g]++
		}
	}
	return nil
}
func (c *countAcc) StateTypes() []arrow.DataType { return []arrow.DataType{int64Type} }
func (c *countAcc) State(ec *EvalContext) ([]arrow.Array, error) {
	return []arrow.Array{fixedArray(ec.Alloc, int64Type, c.counts, nil)}, nil
}
func (c *countAcc) Merge(_ *EvalContext, groups []uint32, n int, st []arrow.Array) error {
	c.counts = grow(c.counts, n)
	v := Values[int64](st[0])
	for i, g := range groups {
		c.counts[g] += v[i]
	}
	return nil
}
func (c *countAcc) Final(ec *EvalContext) (arrow.Array, error) {
	return fixedArray(ec.Alloc, int64Type, c.counts, nil), nil
}

// sumAcc sums int64 (wrapping) or float64 values.
type sumAcc[T int64 | float64] struct {
	dt   arrow.DataType
	sums []T
	has  []bool
}

func (s *sumAcc[T]) Update(ec *EvalContext, groups []uint32, n int, arg arrow.Array) error {
	s.sums, s.has = grow(s.sums, n), grow(s.has, n)
	if isNull(arg.DataType()) {
		return nil
	}
	a, err := castTo(ec, arg, s.dt)
	if err != nil {
		return err
	}
	defer a.Release()
	v := Values[T](a)
	sums, has := s.sums, s.has
	if a.NullN() == 0 {
		v = v[:len(groups)]
		for i, g := range groups {
			sums[g] += v[i]
			has[g] = true
		}
		return nil
	}
	for i, g := range groups {
		if a.IsValid(i) {
			sums[g] += v[i]
			has[g] = true
		}
	}
	return nil
}
func (s *sumAcc[T]) StateTypes() []arrow.DataType { return []arrow.DataType{s.dt} }
func (s *sumAcc[T]) State(ec *EvalContext) ([]arrow.Array, error) {
	return []arrow.Array{fixedArray(ec.Alloc, s.dt, s.sums, s.has)}, nil
}
func (s *sumAcc[T]) Merge(ec *EvalContext, groups []uint32, n int, st []arrow.Array) error {
	return s.Update(ec, groups, n, st[0])
}
func (s *sumAcc[T]) Final(ec *EvalContext) (arrow.Array, error) {
	return fixedArray(ec.Alloc, s.dt, s.sums, s.has), nil
}

// avgAcc keeps a float64 sum and a count.
type avgAcc struct {
	sums   []float64
	counts []int64
}

func (s *avgAcc) Update(ec *EvalContext, groups []uint32, n int, arg arrow.Array) error {
	s.sums, s.counts = grow(s.sums, n), grow(s.counts, n)
	if isNull(arg.DataType()) {
		return nil
	}
	a, err := castTo(ec, arg, float64Type)
	if err != nil {
		return err
	}
	defer a.Release()
	v := Values[float64](a)
	for i, g := range groups {
		if isValid(a, i) {
			s.sums[g] += v[i]
			s.counts[g]++
		}
	}
	return nil
}
func (s *avgAcc) StateTypes() []arrow.DataType { return []arrow.DataType{float64Type, int64Type} }
func (s *avgAcc) State(ec *EvalContext) ([]arrow.Array, error) {
	return []arrow.Array{fixedArray(ec.Alloc, float64Type, s.sums, nil), fixedArray(ec.Alloc, int64Type, s.counts, nil)}, nil
}
func (s *avgAcc) Merge(_ *EvalContext, groups []uint32, n int, st []arrow.Array) error {
	s.sums, s.counts = grow(s.sums, n), grow(s.counts, n)
	sums, counts := Values[float64](st[0]), Values[int64](st[1])
	for i, g := range groups {
		s.sums[g] += sums[i]
		s.counts[g] += counts[i]
	}
	return nil
}
func (s *avgAcc) Final(ec *EvalContext) (arrow.Array, error) {
	out := make([]float64, len(s.sums))
	has := make([]bool, len(s.sums))
	for i := range out {
		if s.counts[i] > 0 {
			out[i] = s.sums[i] / float64(s.counts[i])
			has[i] = true
		}
	}
	return fixedArray(ec.Alloc, float64Type, out, has), nil
}

// valueAcc implements the aggregates that keep input values: min, max,
// first, last, count_distinct and collect_list, over canonical T.
type valueAcc[T int64 | float64 | string | bool] struct {
	fn      string
	in, out arrow.DataType // argument and result types
	ct      arrow.DataType // canonical type
	vals    []T
	valid   []bool // value not null
	seen    []bool // group has had a row (first/last) or a value (min/max)
	sets    []map[T]struct{}
	lists   [][]T
	strs    bool // T is string: values kept are copied (see own)
}

func newValueAcc[T int64 | float64 | string | bool](fn string, in, out, ct arrow.DataType) *valueAcc[T] {
	var zero T
	_, strs := any(zero).(string)
	return &valueAcc[T]{fn: fn, in: in, out: out, ct: ct, strs: strs}
}

func less[T int64 | float64 | string | bool](a, b T) bool {
	switch x := any(a).(type) {
	case bool:
		return !x && any(b).(bool)
	case int64:
		return x < any(b).(int64)
	case float64:
		return x < any(b).(float64)
	case string:
		return x < any(b).(string)
	}
	return false
}

// getter returns a function reading row i of a canonical array. The
// array's Go type always matches T (int64, float64, string or bool), so
// the value is reinterpreted without an interface conversion per row.
func getter[T int64 | float64 | string | bool](a arrow.Array) func(i int) T {
	switch x := a.(type) {
	case *array.Int64:
		v := x.Int64Values()
		return func(i int) T { return *(*T)(unsafe.Pointer(&v[i])) }
	case *array.Float64:
		v := x.Float64Values()
		return func(i int) T { return *(*T)(unsafe.Pointer(&v[i])) }
	case *array.String:
		return func(i int) T { s := x.Value(i); return *(*T)(unsafe.Pointer(&s)) }
	case *array.Boolean:
		return func(i int) T { b := x.Value(i); return *(*T)(unsafe.Pointer(&b)) }
	}
	return func(int) T { var z T; return z }
}

func (v *valueAcc[T]) growTo(n int) {
	v.vals, v.valid, v.seen = grow(v.vals, n), grow(v.valid, n), grow(v.seen, n)
	switch v.fn {
	case AggCountDistinct:
		v.sets = grow(v.sets, n)
	case AggCollectList:
		v.lists = grow(v.lists, n)
	}
}

// add folds value x (valid or null) into group g.
func (v *valueAcc[T]) add(g uint32, x T, valid bool) {
	switch v.fn {
	case AggFirst:
		if !v.seen[g] {
			v.seen[g], v.vals[g], v.valid[g] = true, v.own(x), valid
		}
	case AggLast:
		v.seen[g], v.vals[g], v.valid[g] = true, v.own(x), valid
	case AggMin, AggMax:
		if !valid {
			return
		}
		if !v.valid[g] || (v.fn == AggMin && less(x, v.vals[g])) || (v.fn == AggMax && less(v.vals[g], x)) {
			v.vals[g], v.valid[g] = v.own(x), true
		}
	case AggCountDistinct:
		if !valid {
			return
		}
		if v.sets[g] == nil {
			v.sets[g] = map[T]struct{}{}
		}
		if _, ok := v.sets[g][x]; !ok {
			v.sets[g][v.own(x)] = struct{}{}
		}
	case AggCollectList:
		if valid {
			v.lists[g] = append(v.lists[g], v.own(x))
		}
	}
}

// own returns x, a string as a copy: a string value of an Arrow array
// points into the array's buffer, which may be reused once the array is
// released, and an accumulator may outlive its input (a streaming
// aggregation keeps its groups from batch to batch, exec.GroupTable).
// Other values are returned as they are, with no conversion per call.
func (v *valueAcc[T]) own(x T) T {
	if !v.strs {
		return x
	}
	c := strings.Clone(*(*string)(unsafe.Pointer(&x)))
	return *(*T)(unsafe.Pointer(&c))
}

func (v *valueAcc[T]) Update(ec *EvalContext, groups []uint32, n int, arg arrow.Array) error {
	v.growTo(n)
	c, err := canonical(ec, arg)
	if err != nil {
		return err
	}
	defer c.Release()
	if v.fn == AggMin || v.fn == AggMax {
		switch acc := any(v).(type) {
		case *valueAcc[int64]:
			minMaxFixed(acc, Values[int64](c), c, groups)
			return nil
		case *valueAcc[float64]:
			minMaxFixed(acc, Values[float64](c), c, groups)
			return nil
		}
	}
	get := getter[T](c)
	for i, g := range groups {
		ok := isValid(c, i)
		var x T
		if ok {
			x = get(i)
		}
		v.add(g, x, ok)
	}
	return nil
}

func (v *valueAcc[T]) StateTypes() []arrow.DataType {
	switch v.fn {
	case AggFirst, AggLast:
		return []arrow.DataType{v.ct, boolType}
	case AggCountDistinct, AggCollectList:
		return []arrow.DataType{arrow.ListOf(v.ct)}
	}
	return []arrow.DataType{v.ct}
}

func (v *valueAcc[T]) valuesArray(ec *EvalContext, only []bool) arrow.Array {
	bld := array.NewBuilder(ec.Alloc, v.ct)
	defer bld.Release()
	for i, x := range v.vals {
		if !v.valid[i] || (only != nil && !only[i]) {
			bld.AppendNull()
			continue
		}
		appendT(bld, x)
	}
	return bld.NewArray()
}

func appendT[T int64 | float64 | string | bool](b array.Builder, x T) {
	switch b := b.(type) {
	case *array.Int64Builder:
		b.Append(any(x).(int64))
	case *array.Float64Builder:
		b.Append(any(x).(float64))
	case *array.StringBuilder:
		b.Append(any(x).(string))
	case *array.BooleanBuilder:
		b.Append(any(x).(bool))
	}
}

func (v *valueAcc[T]) listArray(ec *EvalContext) arrow.Array {
	bld := array.NewListBuilder(ec.Alloc, v.ct)
	defer bld.Release()
	vb := bld.ValueBuilder()
	n := len(v.vals)
	for g := range n {
		bld.Append(true)
		if v.fn == AggCountDistinct {
			for x := range v.sets[g] {
				appendT(vb, x)
			}
		} else {
			for _, x := range v.lists[g] {
				appendT(vb, x)
			}
		}
	}
	return bld.NewArray()
}

func (v *valueAcc[T]) State(ec *EvalContext) ([]arrow.Array, error) {
	switch v.fn {
	case AggFirst, AggLast:
		seen := make([]bool, len(v.seen))
		copy(seen, v.seen)
		bb := array.NewBooleanBuilder(ec.Alloc)
		defer bb.Release()
		bb.AppendValues(seen, nil)
		return []arrow.Array{v.valuesArray(ec, nil), bb.NewArray()}, nil
	case AggCountDistinct, AggCollectList:
		return []arrow.Array{v.listArray(ec)}, nil
	}
	return []arrow.Array{v.valuesArray(ec, nil)}, nil
}

func (v *valueAcc[T]) Merge(ec *EvalContext, groups []uint32, n int, st []arrow.Array) error {
	v.growTo(n)
	switch v.fn {
	case AggFirst, AggLast:
		seen := st[1].(*array.Boolean)
		get := getter[T](st[0])
		for i, g := range groups {
			if !seen.Value(i) {
				continue
			}
			ok := st[0].IsValid(i)
			var x T
			if ok {
				x = get(i)
			}
			v.add(g, x, ok)
		}
		return nil
	case AggCountDistinct, AggCollectList:
		l := st[0].(*array.List)
		vals := l.ListValues()
		get := getter[T](vals)
		offs := l.Offsets()
		for i, g := range groups {
			for j := offs[i]; j < offs[i+1]; j++ {
				v.add(g, get(int(j)), vals.IsValid(int(j)))
			}
		}
		return nil
	}
	get := getter[T](st[0])
	for i, g := range groups {
		ok := st[0].IsValid(i)
		var x T
		if ok {
			x = get(i)
		}
		v.add(g, x, ok)
	}
	return nil
}

func (v *valueAcc[T]) Final(ec *EvalContext) (arrow.Array, error) {
	switch v.fn {
	case AggCountDistinct:
		counts := make([]int64, len(v.vals))
		for g := range counts {
			counts[g] = int64(len(v.sets[g]))
		}
		return fixedArray(ec.Alloc, int64Type, counts, nil), nil
	case AggCollectList:
		l := v.listArray(ec)
		defer l.Release()
		if arrow.TypeEqual(l.DataType(), v.out) {
			l.Retain()
			return l, nil
		}
		return restoreList(ec, l.(*array.List), v.out)
	}
	c := v.valuesArray(ec, nil)
	defer c.Release()
	return restore(ec, c, v.out)
}

// restoreList converts a list of canonical values to the list type out.
func restoreList(ec *EvalContext, l *array.List, out arrow.DataType) (arrow.Array, error) {
	elem := out.(*arrow.ListType).Elem()
	vals, err := restore(ec, l.ListValues(), elem)
	if err != nil {
		return nil, err
	}
	defer vals.Release()
	d := l.Data()
	nd := array.NewData(out, d.Len(), d.Buffers(), []arrow.ArrayData{vals.Data()}, d.NullN(), d.Offset())
	defer nd.Release()
	return array.MakeFromData(nd), nil
}

// minMaxFixed is min/max over int64 or float64 values without per-row
// calls. NaN never replaces a value (as less reports false for it).
func minMaxFixed[T int64 | float64](v *valueAcc[T], vals []T, a arrow.Array, groups []uint32) {
	isMin := v.fn == AggMin
	nulls := a.NullN() > 0
	for i, g := range groups {
		if nulls && a.IsNull(i) {
			continue
		}
		x := vals[i]
		if !v.valid[g] || (isMin && x < v.vals[g]) || (!isMin && x > v.vals[g]) {
			v.vals[g], v.valid[g] = x, true
		}
	}
}
