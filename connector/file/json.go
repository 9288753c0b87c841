package file

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// maxJSONDepth bounds the nesting the JSON scanner follows, so hostile
// input cannot exhaust the stack.
const maxJSONDepth = 512

var (
	errJSONSyntax = errors.New("invalid JSON")
	errJSONDepth  = errors.New("JSON nested too deeply")
)

func jsonErr(b []byte, i int, what string) error {
	if i >= len(b) {
		return fmt.Errorf("%w: %s at end of line", errJSONSyntax, what)
	}
	return fmt.Errorf("%w: %s at byte %d (%q)", errJSONSyntax, what, i+1, b[i])
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// SWAR constants for scanString: a byte of each word is flagged when it
// is a quote, a backslash or a control character.
const (
	swarOnes   = 0x0101010101010101
	swarHigh   = 0x8080808080808080
	swarQuote  = '"' * swarOnes
	swarBslash = '\\' * swarOnes
	swarCtl    = 0x20 * swarOnes
)

// stringSpecial returns a word whose lowest set high bit marks the first
// byte of w (little endian) that is '"', '\\' or below 0x20, or 0 if none
// is. Each term flags its lowest matching byte exactly (borrows only reach
// higher bytes), so the lowest flag of the union is a true match.
func stringSpecial(w uint64) uint64 {
	q := w ^ swarQuote
	s := w ^ swarBslash
	return ((q - swarOnes) &^ q & swarHigh) | ((s - swarOnes) &^ s & swarHigh) | ((w - swarCtl) &^ w & swarHigh)
}

// scanString returns the end (after the closing quote) of the string
// starting at b[i] == '"', and whether it holds escapes.
func scanString(b []byte, i int) (end int, escaped bool, err error) {
	i++
	for {
		for i+8 <= len(b) { // skip plain bytes eight at a time
			if t := stringSpecial(binary.LittleEndian.Uint64(b[i:])); t != 0 {
				i += bits.TrailingZeros64(t) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, false, jsonErr(b, i+1, "unterminated escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return 0, false, jsonErr(b, i, "short \\u escape")
				}
				for _, h := range b[i+2 : i+6] {
					if _, ok := unhex(h); !ok {
						return 0, false, jsonErr(b, i, "bad \\u escape")
					}
				}
				i += 6
			default:
				return 0, false, jsonErr(b, i+1, "bad escape")
			}
		case c < 0x20:
			return 0, false, jsonErr(b, i, "control character in string")
		default:
			i++
		}
	}
	return 0, false, jsonErr(b, i, "unterminated string")
}

// unescapeJSON appends the decoded content of the quoted string raw
// (including its quotes) to dst.
func unescapeJSON(dst, raw []byte) []byte {
	s := raw[1 : len(raw)-1]
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				return append(dst, s[i:]...)
			}
			dst = append(dst, s[i:i+j]...)
			i += j
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if r2 := utf16.DecodeRune(r, hex4(s[i+2:i+6])); r2 != utf8.RuneError {
					r = r2
					i += 6
				}
			}
			if utf16.IsSurrogate(r) {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		h, _ := unhex(c)
		r = r<<4 | rune(h)
	}
	return r
}

// scanNumber returns the end of the number at b[i] and whether it has a
// fraction or exponent.
func scanNumber(b []byte, i int) (end int, float bool, err error) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return 0, false, jsonErr(b, start, "bad number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		float = true
		if digits() == 0 {
			return 0, false, jsonErr(b, i, "bad fraction")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		float = true
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, false, jsonErr(b, i, "bad exponent")
		}
	}
	return i, float, nil
}

// scanValue validates the JSON value at b[i] and returns its end.
func scanValue(b []byte, i, depth int) (int, error) {
	if depth > maxJSONDepth {
		return 0, errJSONDepth
	}
	if i >= len(b) {
		return 0, jsonErr(b, i, "missing value")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '{':
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, jsonErr(b, i, "expected object key")
			}
			end, _, err := scanString(b, i)
			if err != nil {
				return 0, err
			}
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				return 0, jsonErr(b, i, "expected ':'")
			}
			if i, err = scanValue(b, skipWS(b, i+1), depth+1); err != nil {
				return 0, err
			}
			i = skipWS(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipWS(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				return i + 1, nil
			}
			return 0, jsonErr(b, i, "expected ',' or '}'")
		}
	case c == '[':
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = scanValue(b, i, depth+1); err != nil {
				return 0, err
			}
			i = skipWS(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipWS(b, i+1)
				continue
			}
			if i < len(b) && b[i] == ']' {
				return i + 1, nil
			}
			return 0, jsonErr(b, i, "expected ',' or ']'")
		}
	case c == '-' || (c >= '0' && c <= '9'):
		end, _, err := scanNumber(b, i)
		return end, err
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	}
	return 0, jsonErr(b, i, "unexpected character")
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return 0, jsonErr(b, i, "bad literal")
}

// forEachMember calls f with each key (raw, with quotes) and value span of
// the object at b[i], returning the object's end.
func forEachMember(b []byte, i, depth int, f func(key []byte, escaped bool, vstart, vend int) error) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return 0, jsonErr(b, i, "expected '{'")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, jsonErr(b, i, "expected object key")
		}
		kend, esc, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		key := b[i:kend]
		i = skipWS(b, kend)
		if i >= len(b) || b[i] != ':' {
			return 0, jsonErr(b, i, "expected ':'")
		}
		vs := skipWS(b, i+1)
		ve, err := scanValue(b, vs, depth+1)
		if err != nil {
			return 0, err
		}
		if err := f(key, esc, vs, ve); err != nil {
			return 0, err
		}
		i = skipWS(b, ve)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		return 0, jsonErr(b, i, "expected ',' or '}'")
	}
}

// forEachElement calls f with each element span of the array at b[i].
func forEachElement(b []byte, i, depth int, f func(vstart, vend int) error) (int, error) {
	if i >= len(b) || b[i] != '[' {
		return 0, jsonErr(b, i, "expected '['")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		ve, err := scanValue(b, i, depth+1)
		if err != nil {
			return 0, err
		}
		if err := f(i, ve); err != nil {
			return 0, err
		}
		i = skipWS(b, ve)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		return 0, jsonErr(b, i, "expected ',' or ']'")
	}
}

// jcol is a column (or nested field) of a JSON read.
type jcol struct {
	*column
	fields []*jcol        // struct children
	index  map[string]int // struct child by name
	elem   *jcol          // list element
	sb     *array.StructBuilder
	lb     *array.ListBuilder
}

func newJCol(f arrow.Field) (*jcol, error) {
	c, err := newColumn(FormatJSON, f, true)
	if err != nil {
		return nil, err
	}
	jc := &jcol{column: c}
	switch t := f.Type.(type) {
	case *arrow.StructType:
		jc.index = map[string]int{}
		for i, cf := range t.Fields() {
			ch, err := newJCol(cf)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
			jc.fields = append(jc.fields, ch)
			if _, dup := jc.index[cf.Name]; !dup {
				jc.index[cf.Name] = i
			}
		}
	case *arrow.ListType:
		ch, err := newJCol(t.ElemField())
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		jc.elem = ch
	}
	return jc, nil
}

func (jc *jcol) bindAll(b array.Builder) {
	jc.bind(b)
	switch jc.kind {
	case kStruct:
		jc.sb = b.(*array.StructBuilder)
		for i, ch := range jc.fields {
			ch.bindAll(jc.sb.FieldBuilder(i))
		}
	case kList:
		jc.lb = b.(*array.ListBuilder)
		jc.elem.bindAll(jc.lb.ValueBuilder())
	}
}

// convertJSON converts the primitive JSON value raw into v for column kind
// k. Strings are unescaped into *arena.
func convertJSON(c *column, tp *timeParser, raw []byte, arena *[]byte, v *cell) error {
	v.valid = true
	if raw[0] == 'n' { // null
		v.valid = false
		return nil
	}
	isStr := raw[0] == '"'
	str := func() []byte {
		start := len(*arena)
		*arena = unescapeJSON(*arena, raw)
		return (*arena)[start:len(*arena):len(*arena)]
	}
	switch c.kind {
	case kNull:
		v.valid = false
	case kString, kLargeString:
		if isStr {
			v.s = str()
		} else {
			v.s = raw // numbers, booleans, objects, arrays: their JSON text
		}
	case kBinary:
		if !isStr {
			return fmt.Errorf("column %q: want a base64 string, got %.20s", c.name, raw)
		}
		s := str()
		start := len(*arena)
		out, err := base64.StdEncoding.AppendDecode(*arena, s)
		if err != nil {
			return fmt.Errorf("column %q: bad base64: %v", c.name, err)
		}
		*arena = out
		v.s = out[start:len(out):len(out)]
	case kBool:
		switch raw[0] {
		case 't':
			v.i = 1
		case 'f':
			v.i = 0
		default:
			return fmt.Errorf("column %q: want a boolean, got %.20s", c.name, raw)
		}
	case kInt8, kInt16, kInt32, kInt64:
		n, err := strconv.ParseInt(string(raw), 10, intBits(c.kind))
		if err != nil {
			return fmt.Errorf("column %q: want an integer of %d bits, got %.20s", c.name, intBits(c.kind), raw)
		}
		v.i = n
	case kUint8, kUint16, kUint32, kUint64:
		n, err := strconv.ParseUint(string(raw), 10, intBits(c.kind))
		if err != nil {
			return fmt.Errorf("column %q: want an unsigned integer of %d bits, got %.20s", c.name, intBits(c.kind), raw)
		}
		v.u = n
	case kFloat32, kFloat64:
		if isStr {
			switch string(raw) {
			case `"NaN"`:
				v.f = math.NaN()
			case `"Infinity"`, `"+Infinity"`, `"Inf"`:
				v.f = math.Inf(1)
			case `"-Infinity"`, `"-Inf"`:
				v.f = math.Inf(-1)
			default:
				return fmt.Errorf("column %q: want a number, got %.20s", c.name, raw)
			}
			return nil
		}
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return fmt.Errorf("column %q: want a number, got %.20s", c.name, raw)
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			var ne *strconv.NumError
			if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
				return fmt.Errorf("column %q: want a number, got %.20s", c.name, raw)
			}
		}
		v.f = f
	case kDate32, kTimestamp:
		if !isStr {
			if c.kind == kTimestamp && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
				// a number is seconds since the Unix epoch, as Spark reads it
				f, err := strconv.ParseFloat(string(raw), 64)
				if err != nil || math.Abs(f) > 9e15 {
					return fmt.Errorf("column %q: bad epoch seconds %.20s", c.name, raw)
				}
				v.i = epochSeconds(f, c.unit)
				return nil
			}
			return fmt.Errorf("column %q: want a %s string, got %.20s", c.name, c.typ, raw)
		}
		s := raw[1 : len(raw)-1]
		if bytes.IndexByte(s, '\\') >= 0 {
			s = unescapeJSON(nil, raw)
		}
		if err := convertText(c.kind, c.unit, tp, s, v); err != nil {
			return fmt.Errorf("column %q: %w", c.name, err)
		}
	default:
		return fmt.Errorf("column %q: type %s is not primitive", c.name, c.typ)
	}
	return nil
}

func epochSeconds(f float64, unit arrow.TimeUnit) int64 {
	switch unit {
	case arrow.Second:
		return int64(f)
	case arrow.Millisecond:
		return int64(f * 1e3)
	case arrow.Microsecond:
		return int64(f * 1e6)
	}
	return int64(f * 1e9)
}

// value checks (build=false) or appends (build=true) the JSON value
// b[s:e] for this column. Checking first and building after keeps a
// malformed row from leaving partial values in the builders.
func (jc *jcol) value(b []byte, s, e, depth int, tp *timeParser, scratch *[]byte, build bool) error {
	if depth > maxJSONDepth {
		return errJSONDepth
	}
	raw := b[s:e]
	if raw[0] == 'n' {
		if build {
			jc.b.AppendNull()
		}
		return nil
	}
	switch jc.kind {
	case kStruct:
		if raw[0] != '{' {
			return fmt.Errorf("field %q: want an object, got %.20s", jc.name, raw)
		}
		spans := make([][2]int, len(jc.fields))
		_, err := forEachMember(b, s, depth, func(key []byte, esc bool, vs, ve int) error {
			k := key[1 : len(key)-1]
			if esc {
				k = unescapeJSON(nil, key)
			}
			if i, ok := jc.index[string(k)]; ok {
				spans[i] = [2]int{vs, ve}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if build {
			jc.sb.Append(true)
		}
		for i, ch := range jc.fields {
			if spans[i][1] == 0 {
				if build {
					ch.b.AppendNull()
				}
				continue
			}
			if err := ch.value(b, spans[i][0], spans[i][1], depth+1, tp, scratch, build); err != nil {
				return err
			}
		}
		return nil
	case kList:
		if raw[0] != '[' {
			return fmt.Errorf("field %q: want an array, got %.20s", jc.name, raw)
		}
		if build {
			jc.lb.Append(true)
		}
		_, err := forEachElement(b, s, depth, func(vs, ve int) error {
			return jc.elem.value(b, vs, ve, depth+1, tp, scratch, build)
		})
		return err
	}
	*scratch = (*scratch)[:0]
	var v cell
	if err := convertJSON(jc.column, tp, raw, scratch, &v); err != nil {
		return err
	}
	if build {
		jc.appendCell(&v)
	}
	return nil
}

// jsonRow parses one line into cells for the top-level columns. Only the
// columns read (the projection) are in byName; the values of other keys
// are only scanned to their end (checked, neither unescaped nor copied),
// so a malformed record is malformed whichever columns are read.
type jsonRow struct {
	p       *textPlan
	cols    []*jcol
	byName  map[string]int
	spans   [][2]int
	escaped []bool   // the value at spans[j] is a string with escapes
	dups    [][2]int // (column, earlier column of the same name): read the same value
	hints   []keyHint
	cells   []cell
	arena   []byte // unescaped strings of the current row; cells point into it or into the line
	scratch []byte
}

// keyHint remembers the key met at one member position of the last line
// and its column (-1: not read), so lines with the same keys in the same
// order find their columns by comparing bytes instead of hashing.
type keyHint struct {
	key []byte // raw, without quotes
	col int
}

// column returns the column of the unescaped key k at member position m,
// -1 if the read does not want it.
func (r *jsonRow) column(k []byte, m int) int {
	if m < len(r.hints) && bytes.Equal(r.hints[m].key, k) {
		return r.hints[m].col
	}
	j, ok := r.byName[string(k)]
	if !ok {
		j = -1
	}
	if m < 64 { // lines with more keys look the rest up
		for len(r.hints) <= m {
			r.hints = append(r.hints, keyHint{col: -1})
		}
		r.hints[m] = keyHint{key: append(r.hints[m].key[:0], k...), col: j}
	}
	return j
}

// members scans the object at line[i] (line[i] == '{'), recording the
// spans of the values of the columns read, and returns its end.
func (r *jsonRow) members(b []byte, i int) (int, error) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for m := 0; ; m++ {
		if i >= len(b) || b[i] != '"' {
			return 0, jsonErr(b, i, "expected object key")
		}
		kend, esc, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		var j int
		if esc {
			j = -1
			if c, ok := r.byName[string(unescapeJSON(nil, b[i:kend]))]; ok {
				j = c
			}
		} else {
			j = r.column(b[i+1:kend-1], m)
		}
		i = skipWS(b, kend)
		if i >= len(b) || b[i] != ':' {
			return 0, jsonErr(b, i, "expected ':'")
		}
		vs := skipWS(b, i+1)
		var ve int
		vesc := false
		if vs < len(b) && b[vs] == '"' {
			ve, vesc, err = scanString(b, vs)
		} else {
			ve, err = scanValue(b, vs, 1)
		}
		if err != nil {
			return 0, err
		}
		if j >= 0 {
			r.spans[j] = [2]int{vs, ve}
			r.escaped[j] = vesc
		}
		i = skipWS(b, ve)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		return 0, jsonErr(b, i, "expected ',' or '}'")
	}
}

// parse checks the line and fills cells (primitives) and spans (nested).
func (r *jsonRow) parse(line []byte) error {
	clear(r.spans)
	i := skipWS(line, 0)
	if i >= len(line) || line[i] != '{' {
		return jsonErr(line, i, "expected a JSON object")
	}
	end, err := r.members(line, i)
	if err != nil {
		return err
	}
	if j := skipWS(line, end); j != len(line) {
		return jsonErr(line, j, "data after the object")
	}
	for _, d := range r.dups {
		r.spans[d[0]], r.escaped[d[0]] = r.spans[d[1]], r.escaped[d[1]]
	}
	if cap(r.arena) < len(line) {
		r.arena = make([]byte, 0, 2*len(line))
	}
	r.arena = r.arena[:0]
	for j, c := range r.cols {
		v := &r.cells[j]
		oc := r.p.cols[j]
		switch oc.role {
		case rolePartition:
			*v = oc.konst
			continue
		case roleCorrupt:
			v.valid = false
			continue
		}
		sp := r.spans[j]
		if sp[1] == 0 {
			v.valid = false
			continue
		}
		switch c.kind {
		case kStruct, kList:
			if err := c.value(line, sp[0], sp[1], 1, r.p.tp, &r.scratch, false); err != nil {
				return err
			}
			continue
		case kString, kLargeString:
			if line[sp[0]] == '"' && !r.escaped[j] { // the line's bytes are the value
				v.valid = true
				v.s = line[sp[0]+1 : sp[1]-1 : sp[1]-1]
				continue
			}
		}
		if err := convertJSON(c.column, r.p.tp, line[sp[0]:sp[1]], &r.arena, v); err != nil {
			return err
		}
	}
	return nil
}

// build appends the parsed row.
func (r *jsonRow) build(line []byte) {
	for j, c := range r.cols {
		sp := r.spans[j]
		if (c.kind == kStruct || c.kind == kList) && r.p.cols[j].role == roleData {
			if sp[1] == 0 {
				c.b.AppendNull()
				continue
			}
			// checked by parse, so this cannot fail
			_ = c.value(line, sp[0], sp[1], 1, r.p.tp, &r.scratch, true)
			continue
		}
		c.appendCell(&r.cells[j])
	}
}

// readJSON implements ReadFile for JSON lines.
func readJSON(ctx context.Context, path string, o ReadOptions, emit func(arrow.RecordBatch) error) (ReadStats, error) {
	var st ReadStats
	p, err := planText(FormatJSON, path, o, true)
	if err != nil {
		return st, err
	}
	row := &jsonRow{p: p, byName: map[string]int{}, spans: make([][2]int, len(p.cols)), escaped: make([]bool, len(p.cols)), cells: make([]cell, len(p.cols))}
	for j, oc := range p.cols {
		jc, err := newJCol(p.schema.Field(j))
		if err != nil {
			return st, err
		}
		jc.column = oc.column // share the bound builder
		row.cols = append(row.cols, jc)
		if oc.role == roleData {
			if first, dup := row.byName[oc.name]; dup {
				row.dups = append(row.dups, [2]int{j, first})
			} else {
				row.byName[oc.name] = j
			}
		}
	}
	lr, err := openLines(path, &st, o.Range, FormatJSON, p.opts)
	if err != nil {
		return st, err
	}
	defer lr.close()
	b := newBatcher(o, p, &st, emit)
	defer b.release()
	for j, jc := range row.cols {
		jc.bindAll(b.rb.Field(j))
	}
	multi, err := p.opts.boolean("multiLine", false)
	if err != nil {
		return st, err
	}
	err = jsonRecords(lr, path, multi, func(rec []byte, line int, offset int64) error {
		if cause := row.parse(rec); cause != nil {
			keep, err := p.malformed(&st, lr, line, offset, cause)
			if err != nil || !keep {
				return err
			}
			p.appendMalformed(rec)
		} else {
			row.build(rec)
		}
		return b.row(ctx)
	})
	if err != nil {
		return st, err
	}
	return st, b.flush(ctx)
}

// jsonRecords calls f with each record and the number of the line it
// starts on. Records are the non-blank lines, or with multiLine the whole
// file: the elements of a top-level array, or the file itself otherwise.
func jsonRecords(lr *lineReader, path string, multiLine bool, f func(rec []byte, line int, offset int64) error) error {
	if !multiLine {
		for {
			line, err := lr.next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("file: read %s: %w", path, err)
			}
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if err := f(line, lr.line, lr.start); err != nil {
				return err
			}
		}
	}
	data, err := io.ReadAll(lr.r)
	if err != nil {
		return fmt.Errorf("file: read %s: %w", path, err)
	}
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		data = data[3:]
	}
	i := skipWS(data, 0)
	if i == len(data) {
		return nil
	}
	if data[i] != '[' {
		return f(bytes.TrimSpace(data), 1+bytes.Count(data[:i], []byte{'\n'}), int64(i))
	}
	line, counted := 1, 0
	var inner error
	_, err = forEachElement(data, i, 0, func(vs, ve int) error {
		line += bytes.Count(data[counted:vs], []byte{'\n'})
		counted = vs
		inner = f(data[vs:ve], line, int64(vs))
		return inner
	})
	if inner != nil {
		return inner
	}
	if err != nil { // the array itself is broken: one malformed record
		return f(data[i:], line, int64(i))
	}
	return nil
}

// jtype is an inferred JSON type.
type jtype struct {
	k      csvTypeState // inferNull..inferString, or jStruct/jList
	fields map[string]*jtype
	elem   *jtype
}

const (
	jStruct csvTypeState = 10 + iota
	jList
)

// inferValue infers the type of the JSON value b[s:e].
func inferValue(b []byte, s, e, depth int) (*jtype, error) {
	if depth > maxJSONDepth {
		return nil, errJSONDepth
	}
	switch c := b[s]; {
	case c == 'n':
		return &jtype{k: inferNull}, nil
	case c == 't' || c == 'f':
		return &jtype{k: inferBool}, nil
	case c == '"':
		return &jtype{k: inferString}, nil
	case c == '{':
		t := &jtype{k: jStruct, fields: map[string]*jtype{}}
		_, err := forEachMember(b, s, depth, func(key []byte, _ bool, vs, ve int) error {
			ft, err := inferValue(b, vs, ve, depth+1)
			if err != nil {
				return err
			}
			k := string(unescapeJSON(nil, key))
			t.fields[k] = mergeJ(t.fields[k], ft)
			return nil
		})
		return t, err
	case c == '[':
		t := &jtype{k: jList, elem: &jtype{k: inferNull}}
		_, err := forEachElement(b, s, depth, func(vs, ve int) error {
			et, err := inferValue(b, vs, ve, depth+1)
			t.elem = mergeJ(t.elem, et)
			return err
		})
		return t, err
	}
	_, float, err := scanNumber(b, s)
	if err != nil {
		return nil, err
	}
	if float {
		return &jtype{k: inferFloat}, nil
	}
	if _, err := strconv.ParseInt(string(b[s:e]), 10, 64); err != nil {
		return &jtype{k: inferFloat}, nil // too big for int64
	}
	return &jtype{k: inferInt}, nil
}

// mergeJ widens two inferred JSON types: structs merge their fields, lists
// their elements, and anything else follows [widen] (a struct or list
// mixed with another kind becomes a string, read as its JSON text).
func mergeJ(a, b *jtype) *jtype {
	switch {
	case a == nil || a.k == inferNull:
		return b
	case b == nil || b.k == inferNull:
		return a
	case a.k == jStruct && b.k == jStruct:
		for k, v := range b.fields {
			a.fields[k] = mergeJ(a.fields[k], v)
		}
		return a
	case a.k == jList && b.k == jList:
		a.elem = mergeJ(a.elem, b.elem)
		return a
	case a.k >= jStruct || b.k >= jStruct:
		return &jtype{k: inferString}
	}
	return &jtype{k: widen(a.k, b.k)}
}

func (t *jtype) arrow() arrow.DataType {
	switch t.k {
	case jStruct:
		return arrow.StructOf(t.arrowFields()...)
	case jList:
		return arrow.ListOf(t.elem.arrow())
	}
	return t.k.arrow()
}

// arrowFields returns a struct's fields sorted by name, as Spark orders
// inferred JSON fields.
func (t *jtype) arrowFields() []arrow.Field {
	names := make([]string, 0, len(t.fields))
	for k := range t.fields {
		names = append(names, k)
	}
	slices.Sort(names)
	fs := make([]arrow.Field, len(names))
	for i, n := range names {
		fs[i] = arrow.Field{Name: n, Type: t.fields[n].arrow(), Nullable: true}
	}
	return fs
}

// inferJSON infers the schema of JSON lines files. Lines that are not JSON
// objects add the corrupt-record column (in PERMISSIVE mode) so they can be
// inspected, as Spark does.
func inferJSON(ctx context.Context, files []string, o options, sample *sampler) ([]arrow.Field, error) {
	mode, err := ParseMode(o.str("mode", ""))
	if err != nil {
		return nil, err
	}
	multi, err := o.boolean("multiLine", false)
	if err != nil {
		return nil, err
	}
	top := &jtype{k: jStruct, fields: map[string]*jtype{}}
	corrupt := false
	for _, path := range files {
		var st ReadStats
		lr, err := openLines(path, &st, ByteRange{}, FormatJSON, o)
		if err != nil {
			return nil, err
		}
		n := 0
		errDone := errors.New("sample complete")
		err = jsonRecords(lr, path, multi, func(line []byte, lineNo int, _ int64) error {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if sample.done() {
				return errDone
			}
			if !sample.take() {
				return nil
			}
			s := skipWS(line, 0)
			end, verr := scanValue(line, s, 0)
			if verr == nil && skipWS(line, end) != len(line) {
				verr = errJSONSyntax
			}
			if verr != nil || line[s] != '{' {
				if mode == FailFast {
					return fmt.Errorf("%w: %s:%d: not a JSON object (mode FAILFAST)", ErrMalformed, path, lineNo)
				}
				corrupt = true
				return nil
			}
			t, err := inferValue(line, s, end, 0)
			if err != nil {
				corrupt = true
				return nil
			}
			top = mergeJ(top, t)
			return nil
		})
		lr.close()
		if err != nil && err != errDone {
			return nil, fmt.Errorf("file: infer %s: %w", path, err)
		}
		if sample.done() {
			break
		}
	}
	fields := top.arrowFields()
	if corrupt && mode == Permissive {
		name := o.str("columnNameOfCorruptRecord", DefaultCorruptColumn)
		if !slices.ContainsFunc(fields, func(f arrow.Field) bool { return f.Name == name }) {
			fields = append(fields, arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true})
		}
	}
	return fields, nil
}
