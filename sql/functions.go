package sql

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/spate-io/spate/expr"
)

// aggregateFuncs maps SQL aggregate names to expr's.
var aggregateFuncs = map[string]string{
	"count": expr.AggCount, "sum": expr.AggSum, "avg": expr.AggAvg, "mean": expr.AggAvg,
	"min": expr.AggMin, "max": expr.AggMax, "first": expr.AggFirst, "last": expr.AggLast,
	"first_value": expr.AggFirst, "last_value": expr.AggLast, "collect_list": expr.AggCollectList,
}

// scalarFunc builds a scalar function call from its translated arguments.
type scalarFunc struct {
	minArgs, maxArgs int // maxArgs -1: any number
	build            func(p *planner, fc *pg.FuncCall, args []expr.Expr) (expr.Expr, error)
}

func unary(f func(expr.Expr) expr.Expr) scalarFunc {
	return scalarFunc{1, 1, func(_ *planner, _ *pg.FuncCall, a []expr.Expr) (expr.Expr, error) { return f(a[0]), nil }}
}

// scalarFuncs are the built-in scalar functions, named as in Spark SQL
// (and PostgreSQL where their grammar differs).
var scalarFuncs = map[string]scalarFunc{
	"lower": unary(expr.Lower), "upper": unary(expr.Upper),
	"trim": unary(expr.Trim), "btrim": unary(expr.Trim), "ltrim": unary(expr.LTrim), "rtrim": unary(expr.RTrim),
	"length": unary(expr.Length), "char_length": unary(expr.Length), "character_length": unary(expr.Length),
	"year": unary(expr.Year), "month": unary(expr.Month), "day": unary(expr.Day), "dayofmonth": unary(expr.Day),
	"hour": unary(expr.Hour), "minute": unary(expr.Minute),
	"abs": unary(expr.Abs), "floor": unary(expr.Floor), "ceil": unary(expr.Ceil), "ceiling": unary(expr.Ceil),
	"sqrt":  unary(expr.Sqrt),
	"pow":   {2, 2, func(_ *planner, _ *pg.FuncCall, a []expr.Expr) (expr.Expr, error) { return expr.Pow(a[0], a[1]), nil }},
	"power": {2, 2, func(_ *planner, _ *pg.FuncCall, a []expr.Expr) (expr.Expr, error) { return expr.Pow(a[0], a[1]), nil }},
	"round": {1, 2, func(p *planner, fc *pg.FuncCall, a []expr.Expr) (expr.Expr, error) {
		scale := int64(0)
		if len(a) == 2 {
			var err error
			if scale, err = p.constInt(fc, a, 1, "scale"); err != nil {
				return nil, err
			}
		}
		return expr.Round(a[0], int(scale)), nil
	}},
	"concat": {1, -1, func(_ *planner, _ *pg.FuncCall, a []expr.Expr) (expr.Expr, error) { return expr.Concat(a...), nil }},
	"coalesce": {1, -1, func(_ *planner, _ *pg.FuncCall, a []expr.Expr) (expr.Expr, error) {
		return expr.NewCoalesce(a...), nil
	}},
	"ifnull":    {2, 2, func(_ *planner, _ *pg.FuncCall, a []expr.Expr) (expr.Expr, error) { return expr.NewCoalesce(a...), nil }},
	"nvl":       {2, 2, func(_ *planner, _ *pg.FuncCall, a []expr.Expr) (expr.Expr, error) { return expr.NewCoalesce(a...), nil }},
	"substring": {2, 3, substring}, "substr": {2, 3, substring},
	"split": {2, 2, func(p *planner, fc *pg.FuncCall, a []expr.Expr) (expr.Expr, error) {
		pat, err := p.constString(fc, a, 1, "pattern")
		if err != nil {
			return nil, err
		}
		return expr.Split(a[0], pat), nil
	}},
	"regexp_extract": {2, 3, func(p *planner, fc *pg.FuncCall, a []expr.Expr) (expr.Expr, error) {
		pat, err := p.constString(fc, a, 1, "pattern")
		if err != nil {
			return nil, err
		}
		group := int64(1) // Spark's default
		if len(a) == 3 {
			if group, err = p.constInt(fc, a, 2, "group"); err != nil {
				return nil, err
			}
		}
		return expr.RegexpExtract(a[0], pat, int(group)), nil
	}},
	"regexp_replace": {3, 3, func(p *planner, fc *pg.FuncCall, a []expr.Expr) (expr.Expr, error) {
		pat, err := p.constString(fc, a, 1, "pattern")
		if err != nil {
			return nil, err
		}
		repl, err := p.constString(fc, a, 2, "replacement")
		if err != nil {
			return nil, err
		}
		return expr.RegexpReplace(a[0], pat, repl), nil
	}},
	"to_timestamp": {1, 2, func(p *planner, fc *pg.FuncCall, a []expr.Expr) (expr.Expr, error) {
		if len(a) == 2 {
			f, err := p.constString(fc, a, 1, "format")
			if err != nil {
				return nil, err
			}
			return expr.ToTimestamp(a[0], f), nil
		}
		return expr.ToTimestamp(a[0]), nil
	}},
	"from_unixtime": {1, 2, func(p *planner, fc *pg.FuncCall, a []expr.Expr) (expr.Expr, error) {
		if len(a) == 2 {
			f, err := p.constString(fc, a, 1, "format")
			if err != nil {
				return nil, err
			}
			return expr.FromUnixtime(a[0], f), nil
		}
		return expr.FromUnixtime(a[0]), nil
	}},
	"unix_timestamp": {0, 1, func(_ *planner, _ *pg.FuncCall, a []expr.Expr) (expr.Expr, error) {
		if len(a) == 0 {
			return expr.UnixTimestamp(expr.CurrentTimestamp()), nil
		}
		return expr.UnixTimestamp(a[0]), nil
	}},
	"date_trunc": {2, 2, func(p *planner, fc *pg.FuncCall, a []expr.Expr) (expr.Expr, error) {
		unit, err := p.constString(fc, a, 0, "unit")
		if err != nil {
			return nil, err
		}
		return expr.DateTrunc(strings.ToLower(unit), a[1]), nil
	}},
	"timestamp_seconds": unary(expr.TimestampSeconds),
	"timestamp_millis":  unary(expr.TimestampMillis),
	"timestamp_micros":  unary(expr.TimestampMicros),
	"unix_seconds":      unary(expr.UnixSeconds),
	"unix_millis":       unary(expr.UnixMillis),
	"unix_micros":       unary(expr.UnixMicros),
	"extract":           {2, 2, extract}, "date_part": {2, 2, extract},
	"current_timestamp": {0, 0, func(*planner, *pg.FuncCall, []expr.Expr) (expr.Expr, error) { return expr.CurrentTimestamp(), nil }},
	"now":               {0, 0, func(*planner, *pg.FuncCall, []expr.Expr) (expr.Expr, error) { return expr.CurrentTimestamp(), nil }},
}

func substring(p *planner, fc *pg.FuncCall, a []expr.Expr) (expr.Expr, error) {
	pos, err := p.constInt(fc, a, 1, "position")
	if err != nil {
		return nil, err
	}
	n := int64(math.MaxInt32)
	if len(a) == 3 {
		if n, err = p.constInt(fc, a, 2, "length"); err != nil {
			return nil, err
		}
	}
	return expr.Substring(a[0], int(pos), int(n)), nil
}

func extract(p *planner, fc *pg.FuncCall, a []expr.Expr) (expr.Expr, error) {
	field, err := p.constString(fc, a, 0, "field")
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(field) {
	case "year":
		return expr.Year(a[1]), nil
	case "month":
		return expr.Month(a[1]), nil
	case "day":
		return expr.Day(a[1]), nil
	case "hour":
		return expr.Hour(a[1]), nil
	case "minute":
		return expr.Minute(a[1]), nil
	case "epoch":
		return expr.UnixTimestamp(a[1]), nil
	}
	return nil, p.errAt(fc.Location, ErrUnsupported, "EXTRACT(%s ...) is not supported (fields: year, month, day, hour, minute, epoch)", field)
}

// windowFuncs are the time-window grouping functions: Spark's window and
// session_window, Flink's (and Arroyo's) TUMBLE, HOP and SESSION, and
// session_end for the end of a session window (SESSION_END in Flink's
// older syntax).
var windowFuncs = []string{"window", "session_window", "tumble", "hop", "session", "session_end"}

// constString returns argument i as a constant string.
func (p *planner) constString(fc *pg.FuncCall, a []expr.Expr, i int, what string) (string, error) {
	s, ok := constValue[string](a[i])
	if !ok {
		return "", p.errAt(location(fc.Args[i]), ErrInvalid, "the %s of %s must be a constant string", what, funcName(fc))
	}
	return s, nil
}

// constInt returns argument i as a constant integer.
func (p *planner) constInt(fc *pg.FuncCall, a []expr.Expr, i int, what string) (int64, error) {
	if v, ok := constValue[int64](a[i]); ok {
		return v, nil
	}
	if v, ok := constValue[int32](a[i]); ok {
		return int64(v), nil
	}
	return 0, p.errAt(location(fc.Args[i]), ErrInvalid, "the %s of %s must be a constant integer", what, funcName(fc))
}

// call translates a function call.
func (p *planner) call(fc *pg.FuncCall, c *exprCtx) (expr.Expr, error) {
	name := funcName(fc)
	at := fc.Location
	if fc.Over != nil {
		return nil, p.errAt(at, ErrUnsupported, "window functions (%s(...) OVER ...) are not supported", name)
	}
	if fc.AggFilter != nil {
		return nil, p.errAt(location(fc.AggFilter), ErrUnsupported, "FILTER (WHERE ...) on aggregates is not supported; use CASE WHEN inside the aggregate")
	}
	if len(fc.AggOrder) > 0 || fc.AggWithinGroup {
		return nil, p.errAt(at, ErrUnsupported, "ORDER BY inside an aggregate call is not supported")
	}
	if fc.FuncVariadic {
		return nil, p.errAt(at, ErrUnsupported, "VARIADIC arguments are not supported")
	}
	if f, ok := p.cfg.funcs[name]; ok && !fc.AggStar && !fc.AggDistinct {
		args, err := p.exprs(fc.Args, c)
		if err != nil {
			return nil, err
		}
		e, err := f(args)
		if err != nil {
			return nil, p.errAt(at, err, "%s: %v", name, err)
		}
		return e, nil
	}
	if agg, ok := aggregateFuncs[name]; ok {
		return p.aggCall(fc, name, agg, c)
	}
	if fc.AggStar || fc.AggDistinct {
		return nil, p.errAt(at, ErrInvalid, "%s is not an aggregate function; * and DISTINCT are only allowed in aggregates (%s)", name, strings.Join(sortedKeys(aggregateFuncs), ", "))
	}
	if slices.Contains(windowFuncs, name) {
		return p.windowCall(fc, name, c)
	}
	f, ok := scalarFuncs[name]
	if !ok {
		names := append(sortedKeys(scalarFuncs), sortedKeys(aggregateFuncs)...)
		names = append(names, windowFuncs...)
		for k := range p.cfg.funcs {
			names = append(names, k)
		}
		return nil, p.errAt(at, ErrNoSuchFunction, "unknown function %s%s", quoteIdent(name), didYouMean(name, names))
	}
	if len(fc.Args) < f.minArgs || f.maxArgs >= 0 && len(fc.Args) > f.maxArgs {
		return nil, p.errAt(at, ErrInvalid, "%s takes %s, got %d", name, argCount(f.minArgs, f.maxArgs), len(fc.Args))
	}
	args, err := p.exprs(fc.Args, c)
	if err != nil {
		return nil, err
	}
	return f.build(p, fc, args)
}

func argCount(lo, hi int) string {
	switch {
	case lo == hi && lo == 1:
		return "1 argument"
	case lo == hi:
		return fmt.Sprintf("%d arguments", lo)
	case hi < 0:
		return fmt.Sprintf("at least %d arguments", lo)
	}
	return fmt.Sprintf("%d to %d arguments", lo, hi)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// aggCall translates an aggregate call.
func (p *planner) aggCall(fc *pg.FuncCall, name, agg string, c *exprCtx) (expr.Expr, error) {
	at := fc.Location
	if c.inAgg {
		return nil, p.errAt(at, ErrInvalid, "aggregate functions cannot be nested (%s inside another aggregate)", name)
	}
	if !c.allowAgg {
		return nil, p.errAt(at, ErrInvalid, "aggregate function %s is not allowed here (WHERE, ON, GROUP BY); filter on aggregates with HAVING", name)
	}
	if fc.AggStar {
		if agg != expr.AggCount {
			return nil, p.errAt(at, ErrInvalid, "%s(*) is not valid; only count(*) is", name)
		}
		return expr.Count(nil), nil
	}
	if len(fc.Args) != 1 {
		return nil, p.errAt(at, ErrInvalid, "%s takes 1 argument, got %d", name, len(fc.Args))
	}
	arg, err := p.expr(fc.Args[0], &exprCtx{scope: c.scope, inAgg: true})
	if err != nil {
		return nil, err
	}
	if fc.AggDistinct {
		switch agg {
		case expr.AggCount:
			return expr.CountDistinct(arg), nil
		case expr.AggMin, expr.AggMax:
			// DISTINCT changes nothing.
		default:
			return nil, p.errAt(at, ErrUnsupported, "%s(DISTINCT ...) is not supported; count(DISTINCT ...) is", name)
		}
	}
	return expr.NewAgg(agg, arg), nil
}

// windowCall plans a time-window function. A tumbling window (Spark's
// window(ts, size), Flink's TUMBLE(ts, size)) is the start of the window
// holding ts (expr.WindowBound), to group by; a sliding one (window(ts,
// size, slide), HOP(ts, slide, size)) is a slidingWindow, which GROUP BY
// expands; a session window (session_window(ts, gap), SESSION(ts, gap))
// is a sessionWindow, which GROUP BY turns into a session merge, and
// session_end(ts, gap) the end of that session.
func (p *planner) windowCall(fc *pg.FuncCall, name string, c *exprCtx) (expr.Expr, error) {
	at := fc.Location
	// Argument shapes: Spark window(ts, size[, slide[, start]]),
	// session_window(ts, gap); Flink TUMBLE(ts, size), HOP(ts, slide, size),
	// SESSION(ts, gap); session_end(ts, gap).
	lo, hi := 2, 2
	switch name {
	case "window":
		lo, hi = 2, 4
	case "hop":
		lo, hi = 3, 3
	}
	if len(fc.Args) < lo || len(fc.Args) > hi {
		return nil, p.errAt(at, ErrInvalid, "%s takes %s, got %d", name, argCount(lo, hi), len(fc.Args))
	}
	ts, err := p.expr(fc.Args[0], c)
	if err != nil {
		return nil, err
	}
	durs := make([]time.Duration, 0, 3)
	for _, a := range fc.Args[1:] {
		d, err := p.durationArg(a)
		if err != nil {
			return nil, err
		}
		durs = append(durs, d)
	}
	switch {
	case name == "session_window", name == "session", name == "session_end":
		if durs[0] <= 0 {
			return nil, p.errAt(at, ErrInvalid, "%s: the gap must be positive, got %v", name, durs[0])
		}
		return &sessionWindow{ts: ts, gap: durs[0], end: name == "session_end"}, nil
	case (name == "window" && len(durs) == 1) || name == "tumble":
		return expr.WindowBound(ts, durs[0], 0, 0, 0), nil
	case name == "window" && len(durs) == 2, name == "hop":
		size, slide := durs[0], durs[1]
		if name == "hop" {
			size, slide = durs[1], durs[0]
		}
		if slide <= 0 || slide > size {
			return nil, p.errAt(at, ErrInvalid, "%s: the slide (%v) must be positive and at most the window's length (%v)", name, slide, size)
		}
		if size == slide {
			return expr.WindowBound(ts, size, 0, 0, 0), nil
		}
		return &slidingWindow{ts: ts, size: size, slide: slide}, nil
	}
	return nil, p.errAt(at, ErrUnsupported, "window(ts, size, slide, start) with a start offset is not supported yet")
}

// durationArg reads a window size: an INTERVAL or a string such as
// '10 seconds'.
func (p *planner) durationArg(n *pgNode) (time.Duration, error) {
	if tc := n.GetTypeCast(); tc != nil && isIntervalType(tc.TypeName) {
		return p.intervalOf(tc)
	}
	if c := n.GetAConst(); c != nil {
		if s, ok := c.Val.(*pg.A_Const_Sval); ok {
			d, err := parseDuration(s.Sval.Sval, 0)
			if err != nil {
				return 0, p.errAt(c.Location, ErrInvalid, "%v", err)
			}
			return d, nil
		}
	}
	return 0, p.errAt(location(n), ErrInvalid, "a window duration must be an INTERVAL or a constant string such as '10 seconds'")
}

// Interval field masks of PostgreSQL's grammar (INTERVAL '10' SECOND).
const (
	maskMonth  = 1 << 1
	maskYear   = 1 << 2
	maskDay    = 1 << 3
	maskHour   = 1 << 10
	maskMinute = 1 << 11
	maskSecond = 1 << 12
)

// intervalOf reads INTERVAL '10' SECOND or INTERVAL '10 seconds'.
func (p *planner) intervalOf(tc *pg.TypeCast) (time.Duration, error) {
	c := tc.Arg.GetAConst()
	var s string
	if c != nil {
		if v, ok := c.Val.(*pg.A_Const_Sval); ok {
			s = v.Sval.Sval
		}
	}
	if c == nil || s == "" {
		return 0, p.errAt(tc.Location, ErrInvalid, "INTERVAL takes a constant string ('10 seconds' or '10' SECOND)")
	}
	var unit time.Duration
	if len(tc.TypeName.Typmods) > 0 {
		mask, _ := intConst(tc.TypeName.Typmods[0])
		switch {
		case mask&(maskMonth|maskYear) != 0:
			return 0, p.errAt(c.Location, ErrUnsupported, "month and year intervals are not fixed durations and are not supported")
		case mask == maskSecond:
			unit = time.Second
		case mask == maskMinute:
			unit = time.Minute
		case mask == maskHour:
			unit = time.Hour
		case mask == maskDay:
			unit = 24 * time.Hour
		default:
			return 0, p.errAt(c.Location, ErrUnsupported, "this INTERVAL qualifier is not supported; write INTERVAL '90 seconds'")
		}
	}
	d, err := parseDuration(s, unit)
	if err != nil {
		return 0, p.errAt(c.Location, ErrInvalid, "%v", err)
	}
	return d, nil
}

// parseDuration reads '10 seconds', '1 hour 30 minutes', '500 ms', or a
// bare number of unit.
func parseDuration(s string, unit time.Duration) (time.Duration, error) {
	f := strings.Fields(strings.ToLower(strings.TrimSpace(s)))
	if len(f) == 1 && unit != 0 {
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("interval %q: %q is not a number", s, f[0])
		}
		return time.Duration(v * float64(unit)), nil
	}
	// Split "10seconds" into "10" "seconds".
	var parts []string
	for _, w := range f {
		i := strings.IndexFunc(w, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' && r != '-' })
		if i > 0 {
			parts = append(parts, w[:i], w[i:])
		} else {
			parts = append(parts, w)
		}
	}
	if len(parts) == 0 || len(parts)%2 != 0 {
		return 0, fmt.Errorf("interval %q: expected pairs of number and unit, such as '10 seconds'", s)
	}
	var total time.Duration
	for i := 0; i < len(parts); i += 2 {
		v, err := strconv.ParseFloat(parts[i], 64)
		if err != nil {
			return 0, fmt.Errorf("interval %q: %q is not a number", s, parts[i])
		}
		var u time.Duration
		switch strings.TrimSuffix(parts[i+1], "s") {
		case "microsecond", "u", "us", "µ":
			u = time.Microsecond
		case "millisecond", "m", "msec", "millisecon":
			u = time.Millisecond
			if parts[i+1] == "m" {
				u = time.Minute
			}
		case "second", "sec", "":
			u = time.Second
		case "minute", "min", "mi":
			u = time.Minute
		case "hour", "h", "hr":
			u = time.Hour
		case "day", "d":
			u = 24 * time.Hour
		case "week", "w":
			u = 7 * 24 * time.Hour
		case "month", "year", "mon", "y":
			return 0, fmt.Errorf("interval %q: months and years are not fixed durations and are not supported", s)
		default:
			return 0, fmt.Errorf("interval %q: unknown unit %q (use microseconds, milliseconds, seconds, minutes, hours, days or weeks)", s, parts[i+1])
		}
		total += time.Duration(v * float64(u))
	}
	if total <= 0 {
		return 0, fmt.Errorf("interval %q must be positive", s)
	}
	return total, nil
}
