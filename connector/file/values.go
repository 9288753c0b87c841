package file

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// kind is the closed set of Arrow types the text readers (CSV, JSON, text,
// partition values) convert into. It lets the hot path switch on a small
// integer and call typed builders, with no interface boxing per value.
type kind uint8

const (
	kNull kind = iota
	kBool
	kInt8
	kInt16
	kInt32
	kInt64
	kUint8
	kUint16
	kUint32
	kUint64
	kFloat32
	kFloat64
	kString
	kLargeString
	kBinary
	kDate32
	kTimestamp
	kStruct // JSON only
	kList   // JSON only
)

// kindOf maps an Arrow type to its kind; ok is false for types the text
// readers do not support.
func kindOf(t arrow.DataType) (kind, bool) {
	switch t.ID() {
	case arrow.NULL:
		return kNull, true
	case arrow.BOOL:
		return kBool, true
	case arrow.INT8:
		return kInt8, true
	case arrow.INT16:
		return kInt16, true
	case arrow.INT32:
		return kInt32, true
	case arrow.INT64:
		return kInt64, true
	case arrow.UINT8:
		return kUint8, true
	case arrow.UINT16:
		return kUint16, true
	case arrow.UINT32:
		return kUint32, true
	case arrow.UINT64:
		return kUint64, true
	case arrow.FLOAT32:
		return kFloat32, true
	case arrow.FLOAT64:
		return kFloat64, true
	case arrow.STRING:
		return kString, true
	case arrow.LARGE_STRING:
		return kLargeString, true
	case arrow.BINARY:
		return kBinary, true
	case arrow.DATE32:
		return kDate32, true
	case arrow.TIMESTAMP:
		return kTimestamp, true
	case arrow.STRUCT:
		return kStruct, true
	case arrow.LIST:
		return kList, true
	}
	return 0, false
}

// cell is one converted value waiting to be appended. Integers, booleans
// (0/1), dates and timestamps live in i, floats in f, strings and binaries
// in s (which points into the current line or the row's scratch buffer).
type cell struct {
	valid bool
	i     int64
	u     uint64
	f     float64
	s     []byte
}

// timeParser parses timestamps and dates in text. layouts are Go layouts
// tried in order; loc is the zone of values that carry none.
type timeParser struct {
	tsLayouts   []string
	dateLayouts []string
	loc         *time.Location
	fast        bool // default formats: try fastTimestamp first
}

// defaultTimestampLayouts accept RFC 3339 and the common SQL forms, with or
// without a zone and fraction (Go's parser accepts a fraction after the
// seconds even when the layout has none).
var defaultTimestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

func newTimeParser(o options) (*timeParser, error) {
	tp := &timeParser{loc: time.UTC}
	if tz := o.str("timeZone", ""); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return nil, fmt.Errorf("file: option timeZone = %q: %w", tz, err)
		}
		tp.loc = loc
	}
	if f := o.str("timestampFormat", ""); f != "" {
		ls, err := javaLayouts(f)
		if err != nil {
			return nil, fmt.Errorf("file: option timestampFormat = %q: %w", f, err)
		}
		tp.tsLayouts = ls
	} else {
		tp.tsLayouts = defaultTimestampLayouts
		tp.fast = true
	}
	if f := o.str("dateFormat", ""); f != "" {
		ls, err := javaLayouts(f)
		if err != nil {
			return nil, fmt.Errorf("file: option dateFormat = %q: %w", f, err)
		}
		tp.dateLayouts = ls
	} else {
		tp.dateLayouts = []string{"2006-01-02"}
	}
	return tp, nil
}

func (tp *timeParser) parse(layouts []string, s string) (time.Time, error) {
	var first error
	for _, l := range layouts {
		t, err := time.ParseInLocation(l, s, tp.loc)
		if err == nil {
			return t, nil
		}
		if first == nil {
			first = err
		}
	}
	return time.Time{}, first
}

// timestampFrom converts t to an Arrow timestamp in unit.
func timestampFrom(t time.Time, unit arrow.TimeUnit) (int64, error) {
	switch unit {
	case arrow.Second:
		return t.Unix(), nil
	case arrow.Millisecond:
		return t.UnixMilli(), nil
	case arrow.Microsecond:
		return t.UnixMicro(), nil
	}
	if y := t.Year(); y < 1678 || y > 2261 {
		return 0, fmt.Errorf("timestamp %s out of range for nanoseconds", t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// dateFrom converts t to days since the Unix epoch (the calendar date of t
// in its own zone).
func dateFrom(t time.Time) int64 {
	y, m, d := t.Date()
	u := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()
	return int64(math.Floor(float64(u) / 86400))
}

// column is one output column of a text reader: its type, its kind, the
// typed builder it appends to, and for nested JSON types the type itself.
type column struct {
	name string
	typ  arrow.DataType
	kind kind
	unit arrow.TimeUnit

	b   array.Builder
	bb  *array.BooleanBuilder
	i8  *array.Int8Builder
	i16 *array.Int16Builder
	i32 *array.Int32Builder
	i64 *array.Int64Builder
	u8  *array.Uint8Builder
	u16 *array.Uint16Builder
	u32 *array.Uint32Builder
	u64 *array.Uint64Builder
	f32 *array.Float32Builder
	f64 *array.Float64Builder
	sb  *array.StringBuilder
	lsb *array.LargeStringBuilder
	bin *array.BinaryBuilder
	d32 *array.Date32Builder
	ts  *array.TimestampBuilder
	nb  *array.NullBuilder
}

// newColumn returns the column for field f, or an error naming it when its
// type is not supported by format.
func newColumn(format string, f arrow.Field, nested bool) (*column, error) {
	k, ok := kindOf(f.Type)
	if !ok || (!nested && (k == kStruct || k == kList)) {
		return nil, fmt.Errorf("file: %s cannot read column %q of type %s", format, f.Name, f.Type)
	}
	c := &column{name: f.Name, typ: f.Type, kind: k}
	if ts, ok := f.Type.(*arrow.TimestampType); ok {
		c.unit = ts.Unit
	}
	return c, nil
}

// bind points the column at builder b (the batch's field builder).
func (c *column) bind(b array.Builder) {
	c.b = b
	switch c.kind {
	case kBool:
		c.bb = b.(*array.BooleanBuilder)
	case kInt8:
		c.i8 = b.(*array.Int8Builder)
	case kInt16:
		c.i16 = b.(*array.Int16Builder)
	case kInt32:
		c.i32 = b.(*array.Int32Builder)
	case kInt64:
		c.i64 = b.(*array.Int64Builder)
	case kUint8:
		c.u8 = b.(*array.Uint8Builder)
	case kUint16:
		c.u16 = b.(*array.Uint16Builder)
	case kUint32:
		c.u32 = b.(*array.Uint32Builder)
	case kUint64:
		c.u64 = b.(*array.Uint64Builder)
	case kFloat32:
		c.f32 = b.(*array.Float32Builder)
	case kFloat64:
		c.f64 = b.(*array.Float64Builder)
	case kString:
		c.sb = b.(*array.StringBuilder)
	case kLargeString:
		c.lsb = b.(*array.LargeStringBuilder)
	case kBinary:
		c.bin = b.(*array.BinaryBuilder)
	case kDate32:
		c.d32 = b.(*array.Date32Builder)
	case kTimestamp:
		c.ts = b.(*array.TimestampBuilder)
	case kNull:
		c.nb = b.(*array.NullBuilder)
	}
}

// appendCell appends a converted cell (primitive kinds only).
func (c *column) appendCell(v *cell) {
	if !v.valid {
		c.b.AppendNull()
		return
	}
	switch c.kind {
	case kBool:
		c.bb.Append(v.i != 0)
	case kInt8:
		c.i8.Append(int8(v.i))
	case kInt16:
		c.i16.Append(int16(v.i))
	case kInt32:
		c.i32.Append(int32(v.i))
	case kInt64:
		c.i64.Append(v.i)
	case kUint8:
		c.u8.Append(uint8(v.u))
	case kUint16:
		c.u16.Append(uint16(v.u))
	case kUint32:
		c.u32.Append(uint32(v.u))
	case kUint64:
		c.u64.Append(v.u)
	case kFloat32:
		c.f32.Append(float32(v.f))
	case kFloat64:
		c.f64.Append(v.f)
	case kString:
		c.sb.BinaryBuilder.Append(v.s)
	case kLargeString:
		c.lsb.BinaryBuilder.Append(v.s)
	case kBinary:
		c.bin.Append(v.s)
	case kDate32:
		c.d32.Append(arrow.Date32(v.i))
	case kTimestamp:
		c.ts.Append(arrow.Timestamp(v.i))
	default:
		c.b.AppendNull()
	}
}

var errEmpty = errors.New("empty value")

// convertText converts the text form of a value (a CSV field, a partition
// directory value, a JSON string for temporal kinds) into v. The caller has
// already decided null-ness; s is never the null marker here.
func convertText(k kind, unit arrow.TimeUnit, tp *timeParser, s []byte, v *cell) error {
	v.valid = true
	switch k {
	case kString, kLargeString, kBinary:
		v.s = s
		return nil
	case kNull:
		v.valid = false
		return nil
	}
	t := bytes.TrimSpace(s)
	if len(t) == 0 {
		return errEmpty
	}
	switch k {
	case kBool:
		switch {
		case bytes.EqualFold(t, []byte("true")):
			v.i = 1
		case bytes.EqualFold(t, []byte("false")):
			v.i = 0
		default:
			return fmt.Errorf("%q is not a boolean", t)
		}
	case kInt8, kInt16, kInt32, kInt64:
		n, err := strconv.ParseInt(string(t), 10, intBits(k))
		if err != nil {
			return fmt.Errorf("%q is not an integer of %d bits", t, intBits(k))
		}
		v.i = n
	case kUint8, kUint16, kUint32, kUint64:
		n, err := strconv.ParseUint(string(t), 10, intBits(k))
		if err != nil {
			return fmt.Errorf("%q is not an unsigned integer of %d bits", t, intBits(k))
		}
		v.u = n
	case kFloat32, kFloat64:
		bits := 64
		if k == kFloat32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(string(t), bits)
		if err != nil {
			var ne *strconv.NumError
			if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
				return fmt.Errorf("%q is not a number", t)
			}
		}
		v.f = f
	case kDate32:
		tm, err := tp.parse(tp.dateLayouts, string(t))
		if err != nil {
			return fmt.Errorf("%q is not a date", t)
		}
		v.i = dateFrom(tm)
	case kTimestamp:
		if tp.fast {
			if sec, ns, zoned, ok := fastTimestamp(t); ok && (zoned || tp.loc == time.UTC) {
				n, err := scaleTimestamp(sec, ns, unit)
				if err != nil {
					return err
				}
				v.i = n
				return nil
			}
		}
		tm, err := tp.parse(tp.tsLayouts, string(t))
		if err != nil {
			return fmt.Errorf("%q is not a timestamp", t)
		}
		n, err := timestampFrom(tm, unit)
		if err != nil {
			return err
		}
		v.i = n
	default:
		return fmt.Errorf("cannot convert text to %v", k)
	}
	return nil
}

func intBits(k kind) int {
	switch k {
	case kInt8, kUint8:
		return 8
	case kInt16, kUint16:
		return 16
	case kInt32, kUint32:
		return 32
	}
	return 64
}

// javaLayouts converts a Spark (java.time) datetime pattern into the Go
// layouts it stands for. Optional sections in [brackets] expand into one
// layout per combination, longest first. Supported letters: y, M (number
// and MMM/MMMM names), d, H, h, m, s, S (fraction), a, E, X/x, Z, and
// 'quoted literals'.
func javaLayouts(p string) ([]string, error) {
	alts, err := expandOptional(p)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(alts))
	for _, a := range alts {
		l, err := javaLayout(a)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// expandOptional expands [optional] sections (nesting allowed) into every
// combination, the ones with more sections first.
func expandOptional(p string) ([]string, error) {
	inQuote := false
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\'':
			inQuote = !inQuote
		case '[':
			if inQuote {
				continue
			}
			depth := 0
			for j := i; j < len(p); j++ {
				switch p[j] {
				case '[':
					depth++
				case ']':
					depth--
				}
				if depth == 0 {
					with, err := expandOptional(p[:i] + p[i+1:j] + p[j+1:])
					if err != nil {
						return nil, err
					}
					without, err := expandOptional(p[:i] + p[j+1:])
					if err != nil {
						return nil, err
					}
					return append(with, without...), nil
				}
			}
			return nil, errors.New("unclosed [ in pattern")
		case ']':
			if !inQuote {
				return nil, errors.New("unmatched ] in pattern")
			}
		}
	}
	return []string{p}, nil
}

func javaLayout(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		if c == '\'' {
			j := strings.IndexByte(p[i+1:], '\'')
			if j < 0 {
				return "", errors.New("unclosed quote in pattern")
			}
			if j == 0 {
				b.WriteByte('\'')
			} else {
				b.WriteString(p[i+1 : i+1+j])
			}
			i += j + 2
			continue
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b.WriteByte(c)
			i++
			continue
		}
		n := 1
		for i+n < len(p) && p[i+n] == c {
			n++
		}
		i += n
		var l string
		switch c {
		case 'y', 'u':
			l = "2006"
			if n == 2 {
				l = "06"
			}
		case 'M', 'L':
			l = map[int]string{1: "1", 2: "01", 3: "Jan"}[min(n, 3)]
			if n >= 4 {
				l = "January"
			}
		case 'd':
			l = "2"
			if n >= 2 {
				l = "02"
			}
		case 'H':
			l = "15"
		case 'h':
			l = "3"
			if n >= 2 {
				l = "03"
			}
		case 'm':
			l = "4"
			if n >= 2 {
				l = "04"
			}
		case 's':
			l = "5"
			if n >= 2 {
				l = "05"
			}
		case 'S':
			l = strings.Repeat("0", n)
			// Go reads a fraction only after a '.' or ','; Spark patterns
			// always write one before S.
		case 'a':
			l = "PM"
		case 'E':
			l = "Mon"
			if n >= 4 {
				l = "Monday"
			}
		case 'X':
			l = map[int]string{1: "Z07", 2: "Z0700", 3: "Z07:00"}[min(n, 3)]
		case 'x':
			l = map[int]string{1: "-07", 2: "-0700", 3: "-07:00"}[min(n, 3)]
		case 'Z':
			l = "-0700"
			if n >= 4 {
				l = "-07:00"
			}
		case 'z':
			l = "MST"
		default:
			return "", fmt.Errorf("pattern letter %q is not supported", c)
		}
		b.WriteString(l)
	}
	return b.String(), nil
}

// fastTimestamp parses the common ISO 8601 forms without time.Parse:
// "YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|±HH:MM|±HHMM]". Values without
// a zone are UTC; hasZone reports whether one was given. ok is false for
// anything else (the caller then falls back to the layouts).
func fastTimestamp(s []byte) (unixSec int64, nsec int64, hasZone bool, ok bool) {
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, false, false
	}
	y, ok1 := num(s[0:4])
	mo, ok2 := num(s[5:7])
	d, ok3 := num(s[8:10])
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) {
		return 0, 0, false, false
	}
	var h, mi, sec int
	rest := s[10:]
	if len(rest) > 0 {
		if len(rest) < 6 || (rest[0] != 'T' && rest[0] != ' ') || rest[3] != ':' {
			return 0, 0, false, false
		}
		var okh, okm bool
		h, okh = num(rest[1:3])
		mi, okm = num(rest[4:6])
		if !okh || !okm || h > 23 || mi > 59 {
			return 0, 0, false, false
		}
		rest = rest[6:]
		if len(rest) >= 3 && rest[0] == ':' {
			var oks bool
			if sec, oks = num(rest[1:3]); !oks || sec > 59 {
				return 0, 0, false, false
			}
			rest = rest[3:]
			if len(rest) > 1 && (rest[0] == '.' || rest[0] == ',') {
				i := 1
				scale := int64(100_000_000)
				for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
					if scale > 0 {
						nsec += int64(rest[i]-'0') * scale
						scale /= 10
					}
					i++
				}
				if i == 1 {
					return 0, 0, false, false
				}
				rest = rest[i:]
			}
		}
		switch {
		case len(rest) == 0:
		case len(rest) == 1 && rest[0] == 'Z':
			hasZone = true
			rest = nil
		case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':',
			len(rest) == 5 && (rest[0] == '+' || rest[0] == '-'):
			zh, okh := num(rest[1:3])
			zm, okm := num(rest[len(rest)-2:])
			if !okh || !okm || zh > 23 || zm > 59 {
				return 0, 0, false, false
			}
			off := zh*3600 + zm*60
			if rest[0] == '-' {
				off = -off
			}
			unixSec -= int64(off)
			hasZone = true
		default:
			return 0, 0, false, false
		}
	}
	unixSec += daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+sec)
	return unixSec, nsec, hasZone, true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days from 1970-01-01 to y-m-d (proleptic
// Gregorian calendar).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// scaleTimestamp converts seconds and nanoseconds to unit.
func scaleTimestamp(sec, nsec int64, unit arrow.TimeUnit) (int64, error) {
	switch unit {
	case arrow.Second:
		return sec, nil
	case arrow.Millisecond:
		return sec*1e3 + nsec/1e6, nil
	case arrow.Microsecond:
		return sec*1e6 + nsec/1e3, nil
	}
	if sec < -9_223_372_036 || sec > 9_223_372_035 {
		return 0, fmt.Errorf("timestamp out of range for nanoseconds")
	}
	return sec*1e9 + nsec, nil
}
