package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// csvConfig holds the parsed CSV options.
type csvConfig struct {
	header    bool
	sep       byte
	quote     byte // 0: quoting disabled
	escape    byte // 0: none
	comment   byte // 0: none
	nullValue []byte
	multiLine bool
}

func csvOptions(o options) (csvConfig, error) {
	c := csvConfig{}
	var err error
	if c.header, err = o.boolean("header", true); err != nil {
		return c, err
	}
	name := "sep"
	if !o.has("sep") && o.has("delimiter") {
		name = "delimiter"
	}
	if c.sep, err = o.char(name, ',', false); err != nil {
		return c, err
	}
	if c.quote, err = o.char("quote", '"', true); err != nil {
		return c, err
	}
	if c.escape, err = o.char("escape", '\\', true); err != nil {
		return c, err
	}
	if c.comment, err = o.char("comment", 0, true); err != nil {
		return c, err
	}
	if c.multiLine, err = o.boolean("multiLine", false); err != nil {
		return c, err
	}
	c.nullValue = []byte(o.str("nullValue", ""))
	if c.sep == c.quote || c.sep == '\n' || c.sep == '\r' {
		return c, fmt.Errorf("file: option sep = %q conflicts with quote or line breaks", c.sep)
	}
	return c, nil
}

// csvField is one field of a parsed record: a range of csvParser.buf.
type csvField struct {
	start, end int
	quoted     bool
}

// csvParser splits records into fields. Fields are unescaped into buf.
type csvParser struct {
	cfg    csvConfig
	buf    []byte
	fields []csvField
}

var errUnterminated = errors.New("unterminated quoted field")

// split parses rec into p.fields. It returns errUnterminated when rec ends
// inside a quoted field (the caller may append the next line and retry).
func (p *csvParser) split(rec []byte) error {
	p.buf = p.buf[:0]
	p.fields = p.fields[:0]
	sep, quote, esc := p.cfg.sep, p.cfg.quote, p.cfg.escape
	i := 0
	for {
		start := len(p.buf)
		quoted := false
		if quote != 0 && i < len(rec) && rec[i] == quote {
			quoted = true
			i++
			closed := false
			for i < len(rec) {
				c := rec[i]
				switch {
				case esc != 0 && esc != quote && c == esc && i+1 < len(rec) && (rec[i+1] == quote || rec[i+1] == esc):
					p.buf = append(p.buf, rec[i+1])
					i += 2
				case c == quote:
					if i+1 < len(rec) && rec[i+1] == quote {
						p.buf = append(p.buf, quote)
						i += 2
						continue
					}
					i++
					closed = true
				default:
					// copy a run of ordinary bytes at once
					j := i + 1
					for j < len(rec) && rec[j] != quote && (esc == 0 || rec[j] != esc) {
						j++
					}
					p.buf = append(p.buf, rec[i:j]...)
					i = j
				}
				if closed {
					break
				}
			}
			if !closed {
				return errUnterminated
			}
			// bytes between the closing quote and the separator are kept
			for i < len(rec) && rec[i] != sep {
				p.buf = append(p.buf, rec[i])
				i++
			}
		} else {
			j := bytes.IndexByte(rec[i:], sep)
			if j < 0 {
				j = len(rec) - i
			}
			p.buf = append(p.buf, rec[i:i+j]...)
			i += j
		}
		p.fields = append(p.fields, csvField{start: start, end: len(p.buf), quoted: quoted})
		if i >= len(rec) {
			return nil
		}
		i++ // separator
		if i == len(rec) {
			p.fields = append(p.fields, csvField{start: len(p.buf), end: len(p.buf)})
			return nil
		}
	}
}

func (p *csvParser) field(i int) []byte { f := p.fields[i]; return p.buf[f.start:f.end] }

// csvRecords yields records (joined physical lines when multiLine) with the
// number of their first line, skipping blank and comment lines.
type csvRecords struct {
	lr    *lineReader
	p     *csvParser
	rec   []byte
	line  int   // first line of the record last returned
	start int64 // its byte offset
}

// next parses the next record into p. raw is the record's text. err is
// io.EOF at the end, errUnterminated for a record whose quote never closes
// (raw is then that text), or an I/O error.
func (r *csvRecords) next() (raw []byte, err error) {
	for {
		line, err := r.lr.next()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 || (r.p.cfg.comment != 0 && line[0] == r.p.cfg.comment) {
			continue
		}
		r.line, r.start = r.lr.line, r.lr.start
		perr := r.p.split(line)
		if perr == nil || !r.p.cfg.multiLine {
			return line, perr
		}
		// Append lines until the quote closes. The quote state is tracked
		// over the new bytes only, and the record is split once at the end,
		// so a long unterminated field costs linear time.
		r.rec = append(r.rec[:0], line...)
		var q quoteState
		q.scan(&r.p.cfg, r.rec)
		for q.inQuote {
			more, err := r.lr.next()
			if err == io.EOF {
				return r.rec, errUnterminated
			}
			if err != nil {
				return nil, err
			}
			n := len(r.rec)
			r.rec = append(r.rec, '\n')
			r.rec = append(r.rec, more...)
			q.scan(&r.p.cfg, r.rec[n:])
		}
		return r.rec, r.p.split(r.rec)
	}
}

// quoteState follows the quoting rules of [csvParser.split] byte by byte,
// so multi-line records can be found without re-parsing them.
type quoteState struct {
	inQuote bool
	started bool // past the first byte of the current field
	pending byte // 1: an escape or quote inside quotes awaits its next byte
}

func (q *quoteState) scan(cfg *csvConfig, b []byte) {
	for _, c := range b {
		if q.inQuote {
			if q.pending != 0 {
				p := q.pending
				q.pending = 0
				if p == cfg.quote && c != cfg.quote { // the quote closed the field
					q.inQuote = false
					q.started = true
					if c == cfg.sep {
						q.started = false
					}
				}
				continue
			}
			switch {
			case cfg.escape != 0 && cfg.escape != cfg.quote && c == cfg.escape:
				q.pending = cfg.escape
				// escape + quote/escape are a pair; escape + other is literal,
				// and the other byte is then ordinary: both cases consume it
			case c == cfg.quote:
				q.pending = cfg.quote
			}
			continue
		}
		switch {
		case c == cfg.sep:
			q.started = false
		case !q.started && cfg.quote != 0 && c == cfg.quote:
			q.inQuote = true
		default:
			q.started = true
		}
	}
	// b ends a line, and the next byte is a line break: a pending quote
	// closes the field, a pending escape is literal.
	if q.pending == cfg.quote {
		q.inQuote, q.started = false, true
	}
	q.pending = 0
}

// readCSV implements ReadFile for CSV.
func readCSV(ctx context.Context, path string, o ReadOptions, emit func(arrow.RecordBatch) error) (ReadStats, error) {
	var st ReadStats
	p, err := planText(FormatCSV, path, o, false)
	if err != nil {
		return st, err
	}
	cfg, err := csvOptions(p.opts)
	if err != nil {
		return st, err
	}
	lr, err := openLines(path, &st, o.Range, FormatCSV, p.opts)
	if err != nil {
		return st, err
	}
	defer lr.close()
	parser := &csvParser{cfg: cfg}
	recs := &csvRecords{lr: lr, p: parser}
	want := len(p.data)   // fields expected per record
	headerAt := int64(-1) // offset of the header when read by a second reader
	if cfg.header {
		hr := recs
		if lr.split && o.Range.Offset > 0 { // the header is at the start of the file
			var hst ReadStats
			hl, err := openLines(path, &hst, ByteRange{}, FormatCSV, p.opts)
			if err != nil {
				return st, err
			}
			defer hl.close()
			hr = &csvRecords{lr: hl, p: parser}
		}
		_, err := hr.next()
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("file: %s:%d: header: %w", path, hr.line, err)
		}
		if hr != recs {
			headerAt = hr.start // blank lines may put it inside this range
		}
		want = len(parser.fields)
		mapByHeader(p, parser)
	}
	b := newBatcher(o, p, &st, emit)
	defer b.release()
	cells := make([]cell, len(p.cols))
	for {
		raw, err := recs.next()
		if err == io.EOF {
			break
		}
		if recs.start == headerAt {
			continue
		}
		var cause error
		switch {
		case err == errUnterminated:
			cause = err
		case err != nil:
			return st, fmt.Errorf("file: read %s: %w", path, err)
		case len(parser.fields) != want:
			cause = fmt.Errorf("record has %d fields, want %d", len(parser.fields), want)
		default:
			cause = p.convertCSV(parser, cells)
		}
		if cause != nil {
			keep, err := p.malformed(&st, lr, recs.line, recs.start, cause)
			if err != nil {
				return st, err
			}
			if !keep {
				continue
			}
			p.appendMalformed(raw)
		} else {
			for i, c := range p.cols {
				c.appendCell(&cells[i])
			}
		}
		if err := b.row(ctx); err != nil {
			return st, err
		}
	}
	return st, b.flush(ctx)
}

// mapByHeader points data columns at header positions. When at least one
// data column's name is in the header, columns map by name (a name missing
// from the header gives a null column); otherwise they map by position, so
// a schema may rename the file's columns.
func mapByHeader(p *textPlan, parser *csvParser) {
	pos := make(map[string]int, len(parser.fields))
	for i := range parser.fields {
		name := string(parser.field(i))
		if _, dup := pos[name]; !dup {
			pos[name] = i
		}
	}
	byName := false
	for _, f := range p.data {
		if _, ok := pos[f.Name]; ok {
			byName = true
			break
		}
	}
	if !byName {
		return
	}
	for _, c := range p.cols {
		if c.role != roleData {
			continue
		}
		if i, ok := pos[c.name]; ok {
			c.src = i
		} else {
			c.src = -1
		}
	}
}

// convertCSV converts the parsed fields into cells, one per output column.
// The error names the column and value of the first field that does not
// fit its type.
func (p *textPlan) convertCSV(parser *csvParser, cells []cell) error {
	nullValue := parser.cfg.nullValue
	for i, c := range p.cols {
		v := &cells[i]
		switch c.role {
		case rolePartition:
			*v = c.konst
			continue
		case roleCorrupt:
			v.valid = false
			continue
		}
		if c.src < 0 || c.src >= len(parser.fields) {
			v.valid = false
			continue
		}
		f := parser.fields[c.src]
		s := parser.buf[f.start:f.end]
		if !f.quoted && bytes.Equal(s, nullValue) {
			v.valid = false
			continue
		}
		if len(s) == 0 && c.kind != kString && c.kind != kLargeString && c.kind != kBinary {
			v.valid = false
			continue
		}
		if err := convertText(c.kind, c.unit, p.tp, s, v); err != nil {
			return fmt.Errorf("column %q (field %d): %w", c.name, c.src+1, err)
		}
	}
	return nil
}

// csvTypeState is the inferred type of one CSV column so far.
type csvTypeState uint8

const (
	inferNull csvTypeState = iota
	inferBool
	inferInt
	inferFloat
	inferString
	inferDate
	inferTimestamp
)

// widen merges two inferred types: null < int < float < string; dates
// widen to timestamps; booleans, dates and timestamps mixed with anything
// else become strings.
func widen(a, b csvTypeState) csvTypeState {
	switch {
	case a == b:
		return a
	case a == inferNull:
		return b
	case b == inferNull:
		return a
	case (a == inferDate && b == inferTimestamp) || (a == inferTimestamp && b == inferDate):
		return inferTimestamp
	case a == inferBool || b == inferBool || a >= inferDate || b >= inferDate:
		return inferString
	}
	return max(a, b)
}

// inferToken returns the narrowest type of one value. Dates and timestamps
// are recognised when tp is not nil (CSV with inferSchema), in tp's
// formats.
func inferToken(s []byte, tp *timeParser) csvTypeState {
	t := bytes.TrimSpace(s)
	if len(t) == 0 {
		return inferNull
	}
	if bytes.EqualFold(t, []byte("true")) || bytes.EqualFold(t, []byte("false")) {
		return inferBool
	}
	if _, err := strconv.ParseInt(string(t), 10, 64); err == nil {
		return inferInt
	}
	if _, err := strconv.ParseFloat(string(t), 64); err == nil {
		return inferFloat
	}
	if tp != nil && len(t) >= 8 && t[0] >= '0' && t[0] <= '9' {
		var v cell
		if convertText(kDate32, 0, tp, t, &v) == nil {
			return inferDate
		}
		if convertText(kTimestamp, arrow.Microsecond, tp, t, &v) == nil {
			return inferTimestamp
		}
	}
	return inferString
}

func (t csvTypeState) arrow() arrow.DataType {
	switch t {
	case inferBool:
		return arrow.FixedWidthTypes.Boolean
	case inferInt:
		return arrow.PrimitiveTypes.Int64
	case inferFloat:
		return arrow.PrimitiveTypes.Float64
	case inferDate:
		return arrow.FixedWidthTypes.Date32
	case inferTimestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	}
	return arrow.BinaryTypes.String
}

// inferCSV infers a CSV schema from the files' header and sampled rows.
// Without inferSchema=true every column is a string, as in Spark.
func inferCSV(ctx context.Context, files []string, o options, sample *sampler) ([]arrow.Field, error) {
	cfg, err := csvOptions(o)
	if err != nil {
		return nil, err
	}
	infer, err := o.boolean("inferSchema", false)
	if err != nil {
		return nil, err
	}
	tp, err := newTimeParser(o)
	if err != nil {
		return nil, err
	}
	nullValue := cfg.nullValue
	var names []string
	var types []csvTypeState
	for _, path := range files {
		var st ReadStats
		lr, err := openLines(path, &st, ByteRange{}, FormatCSV, o)
		if err != nil {
			return nil, err
		}
		parser := &csvParser{cfg: cfg}
		recs := &csvRecords{lr: lr, p: parser}
		first := true
		for n := 0; ; n++ {
			if n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					lr.close()
					return nil, err
				}
			}
			_, err := recs.next()
			if err == io.EOF {
				break
			}
			if err == errUnterminated {
				continue
			}
			if err != nil {
				lr.close()
				return nil, fmt.Errorf("file: read %s: %w", path, err)
			}
			if first {
				first = false
				if names == nil {
					for i := range parser.fields {
						name := "_c" + strconv.Itoa(i)
						if cfg.header {
							if h := string(parser.field(i)); h != "" {
								name = h
							}
						}
						names = append(names, name)
					}
					types = make([]csvTypeState, len(names))
				}
				if cfg.header {
					continue
				}
			}
			if !infer {
				break
			}
			if !sample.take() {
				if sample.done() {
					break
				}
				continue
			}
			for i := range min(len(parser.fields), len(types)) {
				f := parser.fields[i]
				s := parser.buf[f.start:f.end]
				if !f.quoted && bytes.Equal(s, nullValue) {
					continue
				}
				if types[i] != inferString {
					types[i] = widen(types[i], inferToken(s, tp))
				}
			}
		}
		lr.close()
		if sample.done() || (!infer && names != nil) {
			break
		}
	}
	names = dedupNames(names)
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		fields[i] = arrow.Field{Name: n, Type: types[i].arrow(), Nullable: true}
	}
	return fields, nil
}

// dedupNames makes duplicate column names unique by appending their
// position, as Spark does.
func dedupNames(names []string) []string {
	count := map[string]int{}
	for _, n := range names {
		count[n]++
	}
	out := make([]string, len(names))
	for i, n := range names {
		if count[n] > 1 {
			n += strconv.Itoa(i)
		}
		out[i] = n
	}
	return out
}
