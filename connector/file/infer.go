package file

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// sampler decides which records schema inference looks at: every record
// when samplingRatio is 1, otherwise an evenly spread fraction of them, and
// at most maxRows records in all (0: no cap).
type sampler struct {
	ratio   float64
	maxRows int64
	seen    int64 // records offered
	taken   int64
}

func newSampler(o options) (*sampler, error) {
	r, err := o.float("samplingRatio", 1, 0, 1)
	if err != nil {
		return nil, err
	}
	if r == 0 {
		return nil, errors.New("file: option samplingRatio = 0: want a number in (0, 1]")
	}
	n, err := o.integer("inferSchemaMaxRows", 0, 0)
	if err != nil {
		return nil, err
	}
	return &sampler{ratio: r, maxRows: n}, nil
}

// take reports whether the next record is sampled.
func (s *sampler) take() bool {
	if s.done() {
		return false
	}
	s.seen++
	// record n is taken when floor(n*ratio) advances: evenly spread, and
	// deterministic so that inference is repeatable.
	if int64(float64(s.seen)*s.ratio) == int64(float64(s.seen-1)*s.ratio) {
		return false
	}
	s.taken++
	return true
}

func (s *sampler) done() bool { return s.maxRows > 0 && s.taken >= s.maxRows }

// InferSchema infers the schema of files in format. CSV takes column names
// from the header (or _c0, _c1, ...) and, with option inferSchema=true,
// types from the sampled rows; JSON types come from the sampled lines, with
// objects as structs and arrays as lists. Sampling follows options
// samplingRatio (default 1: every row) and inferSchemaMaxRows (default 0:
// no cap). Types widen int64 → float64 → string, booleans mixed with
// anything else become strings, and columns with only nulls are strings.
// CSV also recognises dates and timestamps (options dateFormat and
// timestampFormat; a date column with timestamps becomes a timestamp
// column).
// Parquet returns the schema of the first file; text is one string column
// "value". Columns for hive partition directories (col=value) of the files
// are appended, typed int64, float64, boolean or string by their values.
func InferSchema(ctx context.Context, format string, files []string, opts map[string]string) (*arrow.Schema, error) {
	f, err := checkFormat(format)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("file: infer %s schema: no files (give a schema or a path with data files)", f)
	}
	o := newOptions(opts)
	sample, err := newSampler(o)
	if err != nil {
		return nil, err
	}
	var fields []arrow.Field
	switch f {
	case FormatCSV:
		fields, err = inferCSV(ctx, files, o, sample)
	case FormatJSON:
		fields, err = inferJSON(ctx, files, o, sample)
	case FormatText:
		fields = []arrow.Field{{Name: "value", Type: arrow.BinaryTypes.String, Nullable: true}}
	case FormatParquet:
		fields, err = inferParquet(ctx, files, o)
	}
	if err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("file: cannot infer a %s schema from %d file(s) starting with %s: they hold no records; give a schema", f, len(files), files[0])
	}
	fields = appendPartitionFields(fields, files)
	return arrow.NewSchema(fields, nil), nil
}

// appendPartitionFields adds a field for each partition column found in the
// files' paths that the data does not already have.
func appendPartitionFields(fields []arrow.Field, files []string) []arrow.Field {
	var names []string
	types := map[string]csvTypeState{}
	for _, p := range files {
		vals, null := PartitionValues(p)
		for _, n := range partitionColumnNames(p) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
			if null[n] {
				continue
			}
			t := inferToken([]byte(vals[n]), nil)
			if _, err := strconv.ParseInt(vals[n], 10, 64); err != nil && t == inferInt {
				t = inferString
			}
			types[n] = widen(types[n], t)
		}
	}
	for _, n := range names {
		if slices.ContainsFunc(fields, func(f arrow.Field) bool { return f.Name == n }) {
			continue
		}
		fields = append(fields, arrow.Field{Name: n, Type: types[n].arrow(), Nullable: true})
	}
	return fields
}

// inferParquet returns the first file's schema, or with option
// mergeSchema=true the union of all files' columns (in order of first
// appearance); a column with different types in two files is an error
// naming both files.
func inferParquet(ctx context.Context, files []string, o options) ([]arrow.Field, error) {
	merge, err := o.boolean("mergeSchema", false)
	if err != nil {
		return nil, err
	}
	if !merge {
		files = files[:1]
	}
	var fields []arrow.Field
	from := map[string]string{}
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := parquetSchema(p)
		if err != nil {
			return nil, err
		}
		for _, f := range s.Fields() {
			i := slices.IndexFunc(fields, func(g arrow.Field) bool { return g.Name == f.Name })
			if i < 0 {
				fields = append(fields, f)
				from[f.Name] = p
				continue
			}
			if !sameLayout(fields[i].Type, f.Type) {
				return nil, fmt.Errorf("file: mergeSchema: column %q is %s in %s but %s in %s", f.Name, fields[i].Type, from[f.Name], f.Type, p)
			}
		}
	}
	return fields, nil
}
