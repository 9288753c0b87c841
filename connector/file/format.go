package file

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Format names accepted by [ReadFile], [InferSchema] and [NewWriteJob].
const (
	FormatJSON    = "json"
	FormatCSV     = "csv"
	FormatParquet = "parquet"
	FormatText    = "text"
)

// ErrUnsupportedFormat is wrapped by every error about a format name this
// package does not know. The error text lists the supported names.
var ErrUnsupportedFormat = errors.New("file: unsupported format")

// ErrMalformed is wrapped by the error a FAILFAST read returns for the first
// malformed record; the message names the file and line.
var ErrMalformed = errors.New("file: malformed record")

// ErrPathExists is wrapped by the error [NewWriteJob] returns in [SaveError]
// mode when the target already holds data.
var ErrPathExists = errors.New("file: path already exists")

// Formats returns the supported format names, sorted.
func Formats() []string {
	return []string{FormatCSV, FormatJSON, FormatParquet, FormatText}
}

// checkFormat normalises a format name (case-insensitive, surrounding blanks
// ignored) and rejects unknown ones with an error wrapping
// [ErrUnsupportedFormat].
func checkFormat(format string) (string, error) {
	f := strings.ToLower(strings.TrimSpace(format))
	if slices.Contains(Formats(), f) {
		return f, nil
	}
	return "", fmt.Errorf("%w %q: supported formats are %s", ErrUnsupportedFormat, format, strings.Join(Formats(), ", "))
}

// Mode says what a CSV or JSON reader does with a malformed record.
type Mode int

const (
	// Permissive keeps a malformed record as a row of nulls and, when the
	// schema has the corrupt-record column, the raw text in that column.
	Permissive Mode = iota
	// DropMalformed drops malformed records and counts them in
	// [ReadStats.DroppedRows].
	DropMalformed
	// FailFast stops at the first malformed record with an error wrapping
	// [ErrMalformed] that names the file and line.
	FailFast
)

// String returns the mode's Spark name.
func (m Mode) String() string {
	switch m {
	case Permissive:
		return "PERMISSIVE"
	case DropMalformed:
		return "DROPMALFORMED"
	case FailFast:
		return "FAILFAST"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode parses Spark's mode names, case-insensitively; "" is
// [Permissive].
func ParseMode(s string) (Mode, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "PERMISSIVE":
		return Permissive, nil
	case "DROPMALFORMED":
		return DropMalformed, nil
	case "FAILFAST":
		return FailFast, nil
	}
	return 0, fmt.Errorf("file: option mode = %q: want PERMISSIVE, DROPMALFORMED or FAILFAST", s)
}

// DefaultCorruptColumn is the default name of the column that receives the
// raw text of malformed records in PERMISSIVE mode (option
// columnNameOfCorruptRecord).
const DefaultCorruptColumn = "_corrupt_record"

// DefaultBatchRows is the number of rows per emitted batch when
// [ReadOptions.BatchRows] is 0.
const DefaultBatchRows = 8192

// options is a case-insensitive view of a user's option map, as Spark
// treats option names.
type options map[string]string

func newOptions(m map[string]string) options {
	o := make(options, len(m))
	for k, v := range m {
		o[strings.ToLower(k)] = v
	}
	return o
}

func (o options) str(name, def string) string {
	if v, ok := o[strings.ToLower(name)]; ok {
		return v
	}
	return def
}

func (o options) has(name string) bool {
	_, ok := o[strings.ToLower(name)]
	return ok
}

func (o options) boolean(name string, def bool) (bool, error) {
	v, ok := o[strings.ToLower(name)]
	if !ok {
		return def, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("file: option %s = %q: want true or false", name, v)
	}
	return b, nil
}

func (o options) float(name string, def, lo, hi float64) (float64, error) {
	v, ok := o[strings.ToLower(name)]
	if !ok {
		return def, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < lo || f > hi {
		return 0, fmt.Errorf("file: option %s = %q: want a number in [%g, %g]", name, v, lo, hi)
	}
	return f, nil
}

func (o options) integer(name string, def, lo int64) (int64, error) {
	v, ok := o[strings.ToLower(name)]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < lo {
		return 0, fmt.Errorf("file: option %s = %q: want an integer >= %d", name, v, lo)
	}
	return n, nil
}

// char reads a one-character option; "" is allowed only when allowEmpty
// (it then returns 0, meaning "none").
func (o options) char(name string, def byte, allowEmpty bool) (byte, error) {
	v, ok := o[strings.ToLower(name)]
	if !ok {
		return def, nil
	}
	switch {
	case v == "" && allowEmpty:
		return 0, nil
	case v == `\t`:
		return '\t', nil
	case len(v) == 1:
		return v[0], nil
	}
	return 0, fmt.Errorf("file: option %s = %q: want a single one-byte character", name, v)
}
