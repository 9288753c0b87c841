package expr

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Call is a scalar function applied to argument expressions, with
// constant parameters (a regular expression, a format, a position) fixed
// when the call is made.
type Call struct {
	Name   string
	Args   []Expr
	Params []any
	fn     *function
	aux    any   // derived from Params (a compiled pattern, a Go layout); not printed
	err    error // an invalid parameter, reported by Resolve
}

type function struct {
	// args is the number of arguments; -1 for any number (at least one).
	args    int
	resolve func(c *Call, args []Type) (Type, error)
	eval    func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error)
	nondet  bool
}

// String implements Expr.
func (c *Call) String() string {
	parts := make([]string, 0, len(c.Args)+len(c.Params))
	for _, a := range c.Args {
		parts = append(parts, a.String())
	}
	for _, p := range c.Params {
		switch p := p.(type) {
		case string:
			parts = append(parts, "'"+p+"'")
		case *regexp.Regexp:
			parts = append(parts, "'"+p.String()+"'")
		default:
			parts = append(parts, fmt.Sprint(p))
		}
	}
	return c.Name + "(" + strings.Join(parts, ", ") + ")"
}

// Children implements Expr.
func (c *Call) Children() []Expr { return c.Args }

// WithChildren implements Expr.
func (c *Call) WithChildren(k []Expr) (Expr, error) {
	out := *c
	out.Args = append([]Expr{}, k...)
	return &out, nil
}

// Nondeterministic reports whether the function depends on more than its
// arguments (current_timestamp).
func (c *Call) Nondeterministic() bool { return c.fn != nil && c.fn.nondet }

// Resolve implements Expr.
func (c *Call) Resolve(s *arrow.Schema) (Type, error) {
	if c.err != nil {
		return Type{}, c.err
	}
	if c.fn == nil {
		return Type{}, fmt.Errorf("%w: unknown function %s", ErrInvalid, c.Name)
	}
	if c.fn.args >= 0 && len(c.Args) != c.fn.args || c.fn.args < 0 && len(c.Args) == 0 {
		return Type{}, fmt.Errorf("%w: %s takes %d arguments, got %d", ErrInvalid, c.Name, c.fn.args, len(c.Args))
	}
	ts := make([]Type, len(c.Args))
	for i, a := range c.Args {
		t, err := resolveChild(a, s)
		if err != nil {
			return Type{}, err
		}
		ts[i] = t
	}
	return c.fn.resolve(c, ts)
}

// Eval implements Expr.
func (c *Call) Eval(ec *EvalContext, b arrow.RecordBatch) (arrow.Array, error) {
	if _, err := c.Resolve(b.Schema()); err != nil {
		return nil, err
	}
	args := make([]arrow.Array, len(c.Args))
	defer releaseAll(args)
	for i, a := range c.Args {
		v, err := a.Eval(ec, b)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	return c.fn.eval(ec, c, args, int(b.NumRows()))
}

func call(name string, fn *function, args []Expr, params ...any) *Call {
	return &Call{Name: name, Args: args, Params: params, fn: fn}
}

func badCall(name string, args []Expr, err error, params ...any) *Call {
	return &Call{Name: name, Args: args, Params: params, err: err}
}

// ---- resolvers ----

func argKind(c *Call, i int, t Type, ok bool, want string) error {
	if ok || isNull(t.DataType) {
		return nil
	}
	return fmt.Errorf("%w: %s needs %s for argument %d, got %s (%s)", ErrType, c.Name, want, i+1, c.Args[i], t.DataType)
}

func stringsIn(out arrow.DataType) func(c *Call, ts []Type) (Type, error) {
	return func(c *Call, ts []Type) (Type, error) {
		nullable := false
		for i, t := range ts {
			if err := argKind(c, i, t, isString(t.DataType), "a string"); err != nil {
				return Type{}, err
			}
			nullable = nullable || t.Nullable
		}
		return Type{out, nullable}, nil
	}
}

func numericIn(out arrow.DataType, alwaysNullable bool) func(c *Call, ts []Type) (Type, error) {
	return func(c *Call, ts []Type) (Type, error) {
		nullable := alwaysNullable
		for i, t := range ts {
			if err := argKind(c, i, t, IsNumeric(t.DataType), "a number"); err != nil {
				return Type{}, err
			}
			nullable = nullable || t.Nullable
		}
		if out == nil {
			if IsInteger(ts[0].DataType) {
				return Type{int64Type, nullable}, nil
			}
			return Type{float64Type, nullable}, nil
		}
		return Type{out, nullable}, nil
	}
}

func timestampIn(out arrow.DataType) func(c *Call, ts []Type) (Type, error) {
	return func(c *Call, ts []Type) (Type, error) {
		t := ts[0]
		if err := argKind(c, 0, t, isTemporal(t.DataType) || isString(t.DataType), "a timestamp"); err != nil {
			return Type{}, err
		}
		return Type{out, t.Nullable || isString(t.DataType)}, nil
	}
}

// ---- string functions ----

func mapStrings(alloc memory.Allocator, a arrow.Array, f func(string) string) arrow.Array {
	bld := array.NewStringBuilder(alloc)
	defer bld.Release()
	n := a.Len()
	bld.Reserve(n)
	if isNull(a.DataType()) {
		bld.AppendNulls(n)
		return bld.NewArray()
	}
	s := a.(*array.String)
	bld.ReserveData(len(s.ValueBytes()))
	for i := range n {
		if !isValid(a, i) {
			bld.AppendNull()
			continue
		}
		bld.Append(f(s.Value(i)))
	}
	return bld.NewArray()
}

func stringMapper(f func(c *Call, s string) string) *function {
	return &function{args: 1, resolve: stringsIn(stringType), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		return mapStrings(ec.Alloc, args[0], func(s string) string { return f(c, s) }), nil
	}}
}

var (
	fnLower = stringMapper(func(_ *Call, s string) string { return strings.ToLower(s) })
	fnUpper = stringMapper(func(_ *Call, s string) string { return strings.ToUpper(s) })
	fnTrim  = stringMapper(func(_ *Call, s string) string { return strings.TrimSpace(s) })
	fnLTrim = stringMapper(func(_ *Call, s string) string { return strings.TrimLeft(s, " \t\n\r") })
	fnRTrim = stringMapper(func(_ *Call, s string) string { return strings.TrimRight(s, " \t\n\r") })
	fnSub   = stringMapper(func(c *Call, s string) string { return substring(s, c.Params[0].(int), c.Params[1].(int)) })
	fnRegRe = stringMapper(func(c *Call, s string) string {
		return c.Params[0].(*regexp.Regexp).ReplaceAllString(s, c.Params[1].(string))
	})
	fnRegEx = stringMapper(func(c *Call, s string) string {
		m := c.Params[0].(*regexp.Regexp).FindStringSubmatch(s)
		g := c.Params[1].(int)
		if g < len(m) {
			return m[g]
		}
		return ""
	})
	fnLength = &function{args: 1, resolve: stringsIn(int32Type), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		return mapToInt32(ec.Alloc, args[0], func(i int) int32 {
			return int32(utf8.RuneCountInString(args[0].(*array.String).Value(i)))
		}), nil
	}}
	fnLike = &function{args: 1, resolve: stringsIn(boolType), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		re := c.aux.(*regexp.Regexp)
		return mapToBool(ec.Alloc, args[0], func(i int) bool { return re.MatchString(args[0].(*array.String).Value(i)) }), nil
	}}
	fnConcat = &function{args: -1, resolve: stringsIn(stringType), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		bld := array.NewStringBuilder(ec.Alloc)
		defer bld.Release()
		bld.Reserve(n)
		var sb strings.Builder
	rows:
		for i := range n {
			sb.Reset()
			for _, a := range args {
				if isNull(a.DataType()) || !isValid(a, i) {
					bld.AppendNull()
					continue rows
				}
				sb.WriteString(a.(*array.String).Value(i))
			}
			bld.Append(sb.String())
		}
		return bld.NewArray(), nil
	}}
	fnSplit = &function{args: 1, resolve: stringsIn(arrow.ListOf(stringType)), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		re := c.Params[0].(*regexp.Regexp)
		bld := array.NewListBuilder(ec.Alloc, stringType)
		defer bld.Release()
		vb := bld.ValueBuilder().(*array.StringBuilder)
		for i := range n {
			if isNull(args[0].DataType()) || !isValid(args[0], i) {
				bld.AppendNull()
				continue
			}
			bld.Append(true)
			for _, p := range re.Split(args[0].(*array.String).Value(i), -1) {
				vb.Append(p)
			}
		}
		return bld.NewArray(), nil
	}}
)

// substring takes len characters from 1-based position pos (negative pos
// counts from the end), as Spark's substring.
func substring(s string, pos, length int) string {
	r := []rune(s)
	n := len(r)
	start := 0
	switch {
	case pos > 0:
		start = pos - 1
	case pos < 0:
		if pos < -n {
			// Before the start: the part of the range that overlaps.
			over := -n - pos // characters before the string
			if length <= over {
				return ""
			}
			length -= over
			start = 0
		} else {
			start = n + pos
		}
	}
	if length <= 0 || start >= n {
		return ""
	}
	end := n
	if length < n-start {
		end = start + length
	}
	return string(r[start:end])
}

func mapToInt32(alloc memory.Allocator, a arrow.Array, f func(i int) int32) arrow.Array {
	n := a.Len()
	valid, nulls := validityOf(alloc, n, a)
	buf, out := newFixedBuf[int32](alloc, n)
	for i := range out {
		if isValid(a, i) && !isNull(a.DataType()) {
			out[i] = f(i)
		}
	}
	return makeArray(int32Type, n, valid, buf, nulls)
}

func mapToBool(alloc memory.Allocator, a arrow.Array, f func(i int) bool) arrow.Array {
	n := a.Len()
	valid, nulls := validityOf(alloc, n, a)
	buf := memory.NewResizableBuffer(alloc)
	buf.Resize(int(bitmapBytes(n)))
	bits := buf.Bytes()
	clear(bits)
	for i := range n {
		if !isNull(a.DataType()) && isValid(a, i) && f(i) {
			bits[i>>3] |= 1 << (i & 7)
		}
	}
	return makeArray(boolType, n, valid, buf, nulls)
}

// Lower returns lower(e).
func Lower(e Expr) Expr { return call("lower", fnLower, []Expr{e}) }

// Upper returns upper(e).
func Upper(e Expr) Expr { return call("upper", fnUpper, []Expr{e}) }

// Trim returns trim(e): e without leading and trailing white space.
func Trim(e Expr) Expr { return call("trim", fnTrim, []Expr{e}) }

// LTrim returns ltrim(e).
func LTrim(e Expr) Expr { return call("ltrim", fnLTrim, []Expr{e}) }

// RTrim returns rtrim(e).
func RTrim(e Expr) Expr { return call("rtrim", fnRTrim, []Expr{e}) }

// Length returns length(e), the number of characters (int32).
func Length(e Expr) Expr { return call("length", fnLength, []Expr{e}) }

// Substring returns substring(e, pos, length): length characters from the
// 1-based position pos; a negative pos counts from the end.
func Substring(e Expr, pos, length int) Expr {
	return call("substring", fnSub, []Expr{e}, pos, length)
}

// Concat returns concat(es...): null if any argument is null.
func Concat(es ...Expr) Expr { return call("concat", fnConcat, es) }

// Split returns split(e, pattern): e split around matches of the regular
// expression, as a list of strings.
func Split(e Expr, pattern string) Expr {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return badCall("split", []Expr{e}, fmt.Errorf("%w: split: bad pattern %q: %v", ErrInvalid, pattern, err), pattern)
	}
	return call("split", fnSplit, []Expr{e}, re)
}

// RegexpExtract returns regexp_extract(e, pattern, group): the group-th
// submatch of the first match ("" when none).
func RegexpExtract(e Expr, pattern string, group int) Expr {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return badCall("regexp_extract", []Expr{e}, fmt.Errorf("%w: regexp_extract: bad pattern %q: %v", ErrInvalid, pattern, err), pattern, group)
	}
	if group < 0 || group > re.NumSubexp() {
		return badCall("regexp_extract", []Expr{e}, fmt.Errorf("%w: regexp_extract: group %d out of range; %q has %d groups", ErrInvalid, group, pattern, re.NumSubexp()), pattern, group)
	}
	return call("regexp_extract", fnRegEx, []Expr{e}, re, group)
}

// RegexpReplace returns regexp_replace(e, pattern, repl); repl may refer
// to groups as $1.
func RegexpReplace(e Expr, pattern, repl string) Expr {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return badCall("regexp_replace", []Expr{e}, fmt.Errorf("%w: regexp_replace: bad pattern %q: %v", ErrInvalid, pattern, err), pattern, repl)
	}
	return call("regexp_replace", fnRegRe, []Expr{e}, re, repl)
}

// Like returns e LIKE pattern: % matches any sequence, _ one character,
// \ escapes.
func Like(e Expr, pattern string) Expr {
	var sb strings.Builder
	sb.WriteString("(?s)^")
	esc := false
	for _, r := range pattern {
		switch {
		case esc:
			sb.WriteString(regexp.QuoteMeta(string(r)))
			esc = false
		case r == '\\':
			esc = true
		case r == '%':
			sb.WriteString(".*")
		case r == '_':
			sb.WriteString(".")
		default:
			sb.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	sb.WriteString("$")
	re := regexp.MustCompile(sb.String()) // built from quoted parts: always valid
	c := call("like", fnLike, []Expr{e}, pattern)
	c.aux = re
	return c
}

// ---- math functions ----

func mapFloat(alloc memory.Allocator, ec *EvalContext, a arrow.Array, f func(float64) float64) (arrow.Array, error) {
	fa, err := castTo(ec, a, float64Type)
	if err != nil {
		return nil, err
	}
	defer fa.Release()
	n := fa.Len()
	valid, nulls := validityOf(alloc, n, fa)
	buf, out := newFixedBuf[float64](alloc, n)
	for i, v := range Values[float64](fa) {
		out[i] = f(v)
	}
	return makeArray(float64Type, n, valid, buf, nulls), nil
}

func floatFn(f func(c *Call, x float64) float64) *function {
	return &function{args: 1, resolve: numericIn(float64Type, false), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		return mapFloat(ec.Alloc, ec, args[0], func(x float64) float64 { return f(c, x) })
	}}
}

// roundToInt is floor/ceil: int64 results, as Spark's.
func roundToInt(f func(float64) float64) *function {
	return &function{args: 1, resolve: numericIn(int64Type, false), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		if IsInteger(args[0].DataType()) {
			return castTo(ec, args[0], int64Type)
		}
		fa, err := mapFloat(ec.Alloc, ec, args[0], f)
		if err != nil {
			return nil, err
		}
		defer fa.Release()
		return castArray(ec, fa, int64Type)
	}}
}

var (
	fnSqrt  = floatFn(func(_ *Call, x float64) float64 { return math.Sqrt(x) })
	fnFloor = roundToInt(math.Floor)
	fnCeil  = roundToInt(math.Ceil)
	fnRound = &function{args: 1, resolve: numericIn(nil, false), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		d := c.Params[0].(int)
		if IsInteger(args[0].DataType()) && d >= 0 {
			return castTo(ec, args[0], int64Type)
		}
		p := math.Pow(10, float64(d))
		out, err := mapFloat(ec.Alloc, ec, args[0], func(x float64) float64 { return math.Round(x*p) / p })
		if err != nil || !IsInteger(args[0].DataType()) {
			return out, err
		}
		defer out.Release()
		return castArray(ec, out, int64Type)
	}}
	fnAbs = &function{args: 1, resolve: numericIn(nil, false), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		if IsInteger(args[0].DataType()) {
			ia, err := castTo(ec, args[0], int64Type)
			if err != nil {
				return nil, err
			}
			defer ia.Release()
			valid, nulls := validityOf(ec.Alloc, n, ia)
			buf, out := newFixedBuf[int64](ec.Alloc, n)
			for i, v := range Values[int64](ia) {
				if v < 0 {
					v = -v // math.MinInt64 stays negative: two's complement wrap
				}
				out[i] = v
			}
			return makeArray(int64Type, n, valid, buf, nulls), nil
		}
		return mapFloat(ec.Alloc, ec, args[0], math.Abs)
	}}
	fnPow = &function{args: 2, resolve: numericIn(float64Type, false), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		x, err := castTo(ec, args[0], float64Type)
		if err != nil {
			return nil, err
		}
		defer x.Release()
		y, err := castTo(ec, args[1], float64Type)
		if err != nil {
			return nil, err
		}
		defer y.Release()
		valid, nulls := validityOf(ec.Alloc, n, x, y)
		buf, out := newFixedBuf[float64](ec.Alloc, n)
		xs, ys := Values[float64](x), Values[float64](y)
		for i := range out {
			out[i] = math.Pow(xs[i], ys[i])
		}
		return makeArray(float64Type, n, valid, buf, nulls), nil
	}}
)

// Abs returns abs(e). For integers it computes in int64; abs of the
// smallest int64 wraps to itself.
func Abs(e Expr) Expr { return call("abs", fnAbs, []Expr{e}) }

// Sqrt returns sqrt(e) as float64 (NaN for negative input, as Go's and
// Java's sqrt).
func Sqrt(e Expr) Expr { return call("sqrt", fnSqrt, []Expr{e}) }

// Floor returns floor(e) as int64.
func Floor(e Expr) Expr { return call("floor", fnFloor, []Expr{e}) }

// Ceil returns ceil(e) as int64.
func Ceil(e Expr) Expr { return call("ceil", fnCeil, []Expr{e}) }

// Round returns round(e, scale), rounding half away from zero.
func Round(e Expr, scale int) Expr { return call("round", fnRound, []Expr{e}, scale) }

// Pow returns pow(x, y) as float64.
func Pow(x, y Expr) Expr { return call("pow", fnPow, []Expr{x, y}) }

// ---- time functions ----

// timestamps evaluates a timestamp or string argument as UTC microseconds.
func timestamps(ec *EvalContext, a arrow.Array) (arrow.Array, error) {
	return castTo(ec, a, TimestampType)
}

func timePart(name string, part func(t time.Time) int32) *function {
	return &function{args: 1, resolve: timestampIn(int32Type), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		ts, err := timestamps(ec, args[0])
		if err != nil {
			return nil, err
		}
		defer ts.Release()
		vals := Values[int64](ts)
		return mapToInt32(ec.Alloc, ts, func(i int) int32 { return part(time.UnixMicro(vals[i]).UTC()) }), nil
	}}
}

var (
	fnYear   = timePart("year", func(t time.Time) int32 { return int32(t.Year()) })
	fnMonth  = timePart("month", func(t time.Time) int32 { return int32(t.Month()) })
	fnDay    = timePart("day", func(t time.Time) int32 { return int32(t.Day()) })
	fnHour   = timePart("hour", func(t time.Time) int32 { return int32(t.Hour()) })
	fnMinute = timePart("minute", func(t time.Time) int32 { return int32(t.Minute()) })
	fnUnixTS = &function{args: 1, resolve: timestampIn(int64Type), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		ts, err := timestamps(ec, args[0])
		if err != nil {
			return nil, err
		}
		defer ts.Release()
		valid, nulls := validityOf(ec.Alloc, n, ts)
		buf, out := newFixedBuf[int64](ec.Alloc, n)
		for i, v := range Values[int64](ts) {
			out[i] = floorDiv(v, 1e6)
		}
		return makeArray(int64Type, n, valid, buf, nulls), nil
	}}
	fnTrunc = &function{args: 1, resolve: timestampIn(TimestampType), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		ts, err := timestamps(ec, args[0])
		if err != nil {
			return nil, err
		}
		defer ts.Release()
		unit := c.Params[0].(string)
		valid, nulls := validityOf(ec.Alloc, n, ts)
		buf, out := newFixedBuf[int64](ec.Alloc, n)
		for i, v := range Values[int64](ts) {
			out[i] = truncMicros(v, unit)
		}
		return makeArray(TimestampType, n, valid, buf, nulls), nil
	}}
	fnToTS = &function{args: 1, resolve: stringsIn(TimestampType), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		if len(c.Params) == 0 || c.Params[0].(string) == "" {
			return castTo(ec, args[0], TimestampType)
		}
		layout := c.aux.(string)
		bld := array.NewTimestampBuilder(ec.Alloc, TimestampType)
		defer bld.Release()
		bld.Reserve(n)
		for i := range n {
			if isNull(args[0].DataType()) || !isValid(args[0], i) {
				bld.AppendNull()
				continue
			}
			t, err := time.ParseInLocation(layout, args[0].(*array.String).Value(i), time.UTC)
			if err != nil {
				bld.AppendNull()
				continue
			}
			bld.Append(arrow.Timestamp(t.UnixMicro()))
		}
		return bld.NewArray(), nil
	}}
	fnFromUnix = &function{args: 1, resolve: numericIn(stringType, false), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		secs, err := castTo(ec, args[0], int64Type)
		if err != nil {
			return nil, err
		}
		defer secs.Release()
		layout := c.aux.(string)
		vals := Values[int64](secs)
		bld := array.NewStringBuilder(ec.Alloc)
		defer bld.Release()
		for i := range n {
			if !isValid(secs, i) {
				bld.AppendNull()
				continue
			}
			bld.Append(time.Unix(vals[i], 0).UTC().Format(layout))
		}
		return bld.NewArray(), nil
	}}
	fnNow = &function{args: 0, resolve: func(*Call, []Type) (Type, error) { return Type{TimestampType, false}, nil },
		eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
			return fillFixed(ec.Alloc, TimestampType, ec.Now.UnixMicro(), n), nil
		}, nondet: true}
)

// formatTimestamps renders timestamps as strings with a Go layout.
func formatTimestamps(alloc memory.Allocator, a arrow.Array, layout string) (arrow.Array, error) {
	unit := a.DataType().(*arrow.TimestampType).Unit
	vals := Values[int64](a)
	bld := array.NewStringBuilder(alloc)
	defer bld.Release()
	for i, v := range vals {
		if !isValid(a, i) {
			bld.AppendNull()
			continue
		}
		bld.Append(timeOf(v, unit).Format(layout))
	}
	return bld.NewArray(), nil
}

var truncUnits = []string{"year", "quarter", "month", "week", "day", "hour", "minute", "second"}

func truncMicros(v int64, unit string) int64 {
	t := time.UnixMicro(v).UTC()
	var out time.Time
	switch unit {
	case "year":
		out = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	case "quarter":
		out = time.Date(t.Year(), (t.Month()-1)/3*3+1, 1, 0, 0, 0, 0, time.UTC)
	case "month":
		out = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	case "week":
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		wd := (int(d.Weekday()) + 6) % 7 // Monday first
		out = d.AddDate(0, 0, -wd)
	case "day":
		out = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case "hour":
		return floorDiv(v, 3600e6) * 3600e6
	case "minute":
		return floorDiv(v, 60e6) * 60e6
	case "second":
		return floorDiv(v, 1e6) * 1e6
	}
	return out.UnixMicro()
}

// Year returns year(e) of a timestamp (int32); Month, Day, Hour and
// Minute likewise. Times are UTC.
func Year(e Expr) Expr { return call("year", fnYear, []Expr{e}) }

// Month returns month(e), 1 to 12.
func Month(e Expr) Expr { return call("month", fnMonth, []Expr{e}) }

// Day returns the day of the month of e.
func Day(e Expr) Expr { return call("day", fnDay, []Expr{e}) }

// Hour returns hour(e).
func Hour(e Expr) Expr { return call("hour", fnHour, []Expr{e}) }

// Minute returns minute(e).
func Minute(e Expr) Expr { return call("minute", fnMinute, []Expr{e}) }

// UnixTimestamp returns unix_timestamp(e): seconds since the epoch (int64).
func UnixTimestamp(e Expr) Expr { return call("unix_timestamp", fnUnixTS, []Expr{e}) }

// DateTrunc returns date_trunc(unit, e): e truncated to year, quarter,
// month, week (Monday), day, hour, minute or second.
func DateTrunc(unit string, e Expr) Expr {
	u := strings.ToLower(unit)
	for _, ok := range truncUnits {
		if u == ok {
			return call("date_trunc", fnTrunc, []Expr{e}, u)
		}
	}
	return badCall("date_trunc", []Expr{e}, fmt.Errorf("%w: date_trunc: unknown unit %q; use one of %s", ErrInvalid, unit, strings.Join(truncUnits, ", ")), unit)
}

// ToTimestamp returns to_timestamp(e[, format]): format is a Spark/Java
// date pattern (yyyy-MM-dd HH:mm:ss); without it ISO forms are accepted.
// Strings that do not parse give null.
func ToTimestamp(e Expr, format ...string) Expr {
	if len(format) == 0 || format[0] == "" {
		return call("to_timestamp", fnToTS, []Expr{e})
	}
	c := call("to_timestamp", fnToTS, []Expr{e}, format[0])
	c.aux = JavaLayout(format[0])
	return c
}

// FromUnixtime returns from_unixtime(e[, format]): seconds since the
// epoch rendered as a UTC string (default yyyy-MM-dd HH:mm:ss).
func FromUnixtime(e Expr, format ...string) Expr {
	f := "yyyy-MM-dd HH:mm:ss"
	if len(format) > 0 && format[0] != "" {
		f = format[0]
	}
	c := call("from_unixtime", fnFromUnix, []Expr{e}, f)
	c.aux = JavaLayout(f)
	return c
}

// CurrentTimestamp returns current_timestamp(): the EvalContext's Now,
// fixed for a query.
func CurrentTimestamp() Expr { return call("current_timestamp", fnNow, nil) }

// JavaLayout converts a Spark (Java) date pattern such as
// "yyyy-MM-dd HH:mm:ss.SSS" into a Go time layout. Quoted text is kept.
func JavaLayout(p string) string {
	repl := []struct{ java, goLayout string }{
		{"yyyy", "2006"}, {"yy", "06"}, {"MMMM", "January"}, {"MMM", "Jan"}, {"MM", "01"}, {"M", "1"},
		{"dd", "02"}, {"d", "2"}, {"HH", "15"}, {"hh", "03"}, {"h", "3"}, {"mm", "04"}, {"m", "4"},
		{"ss", "05"}, {"s", "5"}, {"SSSSSS", "000000"}, {"SSS", "000"}, {"a", "PM"}, {"XXX", "Z07:00"},
		{"Z", "-0700"}, {"EEEE", "Monday"}, {"EEE", "Mon"},
	}
	var sb strings.Builder
	for i := 0; i < len(p); {
		if p[i] == '\'' {
			j := strings.IndexByte(p[i+1:], '\'')
			if j < 0 {
				sb.WriteString(p[i+1:])
				break
			}
			sb.WriteString(p[i+1 : i+1+j])
			i += j + 2
			continue
		}
		matched := false
		for _, r := range repl {
			if strings.HasPrefix(p[i:], r.java) {
				sb.WriteString(r.goLayout)
				i += len(r.java)
				matched = true
				break
			}
		}
		if !matched {
			sb.WriteByte(p[i])
			i++
		}
	}
	return sb.String()
}
