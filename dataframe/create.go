package dataframe

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/rdd"
)

// ErrUnsupportedType is wrapped by errors of Go types that have no column
// type (a map, a channel, an interface field).
var ErrUnsupportedType = errors.New("dataframe: unsupported Go type")

// structField is an exported field of a struct mapped to a column.
type structField struct {
	index []int
	name  string
	typ   reflect.Type
	dt    arrow.DataType
	null  bool // pointer field: nil is null
}

var timeType = reflect.TypeFor[time.Time]()

// arrowType maps a Go type to its column type.
func arrowType(t reflect.Type) (arrow.DataType, bool, error) {
	nullable := false
	if t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	if t == timeType {
		return expr.TimestampType, nullable, nil
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return arrow.PrimitiveTypes.Int64, nullable, nil
	case reflect.Int32, reflect.Uint16:
		return arrow.PrimitiveTypes.Int32, nullable, nil
	case reflect.Int16, reflect.Uint8:
		return arrow.PrimitiveTypes.Int16, nullable, nil
	case reflect.Int8:
		return arrow.PrimitiveTypes.Int8, nullable, nil
	case reflect.Float64:
		return arrow.PrimitiveTypes.Float64, nullable, nil
	case reflect.Float32:
		return arrow.PrimitiveTypes.Float32, nullable, nil
	case reflect.String:
		return arrow.BinaryTypes.String, nullable, nil
	case reflect.Bool:
		return arrow.FixedWidthTypes.Boolean, nullable, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return arrow.BinaryTypes.Binary, true, nil
		}
		et, en, err := arrowType(t.Elem())
		if err != nil {
			return nil, false, err
		}
		return arrow.ListOfField(arrow.Field{Name: "item", Type: et, Nullable: en}), true, nil
	}
	return nil, false, fmt.Errorf("%w: %s", ErrUnsupportedType, t)
}

// structFields returns the columns of struct type t: exported fields, named
// by their `spate:"name"` tag or their Go name; `spate:"-"` skips one.
func structFields(t reflect.Type) ([]structField, error) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: %s is not a struct", ErrUnsupportedType, t)
	}
	var out []structField
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("spate"); ok {
			tag, _, _ = strings.Cut(tag, ",")
			if tag == "-" {
				continue
			}
			if tag != "" {
				name = tag
			}
		}
		dt, null, err := arrowType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		out = append(out, structField{index: f.Index, name: name, typ: f.Type, dt: dt, null: null})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s has no exported fields", ErrUnsupportedType, t)
	}
	return out, nil
}

// SchemaOf returns the schema CreateDataFrame gives []T.
func SchemaOf[T any]() (*arrow.Schema, error) {
	fs, err := structFields(reflect.TypeFor[T]())
	if err != nil {
		return nil, err
	}
	return schemaOf(fs), nil
}

func schemaOf(fs []structField) *arrow.Schema {
	fields := make([]arrow.Field, len(fs))
	for i, f := range fs {
		fields[i] = arrow.Field{Name: f.name, Type: f.dt, Nullable: f.null}
	}
	return arrow.NewSchema(fields, nil)
}

// appendValue appends Go value v (of a type arrowType accepts) to b.
func appendValue(b array.Builder, v reflect.Value) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			b.AppendNull()
			return
		}
		v = v.Elem()
	}
	switch b := b.(type) {
	case *array.Int64Builder:
		if v.CanInt() {
			b.Append(v.Int())
		} else {
			b.Append(int64(v.Uint()))
		}
	case *array.Int32Builder:
		if v.CanInt() {
			b.Append(int32(v.Int()))
		} else {
			b.Append(int32(v.Uint()))
		}
	case *array.Int16Builder:
		if v.CanInt() {
			b.Append(int16(v.Int()))
		} else {
			b.Append(int16(v.Uint()))
		}
	case *array.Int8Builder:
		b.Append(int8(v.Int()))
	case *array.Float64Builder:
		b.Append(v.Float())
	case *array.Float32Builder:
		b.Append(float32(v.Float()))
	case *array.StringBuilder:
		b.Append(v.String())
	case *array.BooleanBuilder:
		b.Append(v.Bool())
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.Interface().(time.Time).UnixMicro()))
	case *array.BinaryBuilder:
		if v.IsNil() {
			b.AppendNull()
		} else {
			b.Append(v.Bytes())
		}
	case *array.ListBuilder:
		if v.IsNil() {
			b.AppendNull()
			return
		}
		b.Append(true)
		for i := range v.Len() {
			appendValue(b.ValueBuilder(), v.Index(i))
		}
	}
}

// CreateDataFrame makes a DataFrame of Go structs: one column per
// exported field (named by a `spate:"name"` tag or the field name;
// `spate:"-"` skips a field), split into the session's default
// parallelism. Pointer and slice fields are nullable; time.Time is a UTC
// microsecond timestamp; slices are lists. The values are copied.
func CreateDataFrame[T any](s *Session, data []T) *DataFrame {
	if s == nil {
		return &DataFrame{err: errors.New("dataframe.CreateDataFrame: nil session")}
	}
	fs, err := structFields(reflect.TypeFor[T]())
	if err != nil {
		return s.failed(fmt.Errorf("dataframe.CreateDataFrame: %w", err))
	}
	schema := schemaOf(fs)
	parts := make([][]arrow.RecordBatch, min(s.cfg.parallelism, max(1, len(data))))
	per := (len(data) + len(parts) - 1) / len(parts)
	for p := range parts {
		lo, hi := min(p*per, len(data)), min((p+1)*per, len(data))
		for start := lo; start < hi; start += s.cfg.exec.BatchRows {
			end := min(start+s.cfg.exec.BatchRows, hi)
			parts[p] = append(parts[p], structBatch(schema, fs, data[start:end]))
		}
	}
	rel, err := plan.NewLocalRelation(schema, parts)
	if err != nil {
		return s.failed(err)
	}
	return &DataFrame{s: s, plan: rel}
}

// structBatch builds a batch of data on the Go heap (relations outlive
// queries, so their memory is not the session allocator's).
func structBatch[T any](schema *arrow.Schema, fs []structField, data []T) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Reserve(len(data))
	for i := range data {
		v := reflect.ValueOf(&data[i]).Elem()
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		for j, f := range fs {
			if !v.IsValid() {
				b.Field(j).AppendNull()
				continue
			}
			appendValue(b.Field(j), v.FieldByIndex(f.index))
		}
	}
	return b.NewRecordBatch()
}

// CreateDataFrameFromBatches makes a DataFrame of record batches that all
// have one schema, split in order into the session's default parallelism
// (consecutive batches form a partition). The DataFrame keeps its own
// references to the batches; the caller keeps (and releases) its own.
func CreateDataFrameFromBatches(s *Session, schema *arrow.Schema, batches []arrow.RecordBatch) *DataFrame {
	if s == nil {
		return &DataFrame{err: errors.New("dataframe.CreateDataFrameFromBatches: nil session")}
	}
	n := min(s.cfg.parallelism, max(1, len(batches)))
	parts := make([][]arrow.RecordBatch, n)
	per := (len(batches) + n - 1) / n
	for i, b := range batches {
		b.Retain()
		parts[i/per] = append(parts[i/per], b)
	}
	rel, err := plan.NewLocalRelation(schema, parts)
	if err != nil {
		for _, b := range batches {
			b.Release()
		}
		return s.failed(fmt.Errorf("dataframe.CreateDataFrameFromBatches: %w", err))
	}
	return &DataFrame{s: s, plan: rel}
}

// rddSource is a Scan source over an RDD of structs. It is materialised
// into a local relation (one job computing the RDD, keeping its
// partitions) when an action runs.
type rddSource[T any] struct {
	r      *rdd.RDD[T]
	fs     []structField
	schema *arrow.Schema
	batch  int
}

func (r *rddSource[T]) Schema() *arrow.Schema { return r.schema }
func (r *rddSource[T]) String() string        { return "ExistingRDD" }
func (r *rddSource[T]) NumPartitions() int    { return r.r.NumPartitions() }
func (r *rddSource[T]) Read(context.Context, memory.Allocator, int, []string, []expr.Expr, func(arrow.RecordBatch) error) error {
	return errors.New("dataframe: an RDD source must be materialised before it is read")
}

// relation computes the RDD and returns its partitions as batches.
func (r *rddSource[T]) relation(ctx context.Context) (*plan.LocalRelation, error) {
	parts, err := rdd.Glom(r.r).Collect(ctx)
	if err != nil {
		return nil, err
	}
	out := make([][]arrow.RecordBatch, len(parts))
	for p, data := range parts {
		for lo := 0; lo < len(data); lo += r.batch {
			out[p] = append(out[p], structBatch(r.schema, r.fs, data[lo:min(lo+r.batch, len(data))]))
		}
	}
	return plan.NewLocalRelation(r.schema, out)
}

type materializer interface {
	relation(ctx context.Context) (*plan.LocalRelation, error)
}

// materialize replaces the RDD scans of p by the data they read, keeping
// the scan's projection.
func materialize(ctx context.Context, s *Session, p plan.Node) (plan.Node, error) {
	return plan.TransformUp(p, func(n plan.Node) (plan.Node, error) {
		scan, ok := n.(*plan.Scan)
		if !ok {
			return n, nil
		}
		m, ok := scan.Source.(materializer)
		if !ok {
			return n, nil
		}
		rel, err := m.relation(ctx)
		if err != nil {
			return nil, err
		}
		if scan.Columns == nil {
			return rel, nil
		}
		cols := make([]expr.Expr, len(scan.Columns))
		for i, c := range scan.Columns {
			cols[i] = expr.Col(c)
		}
		return plan.NewProject(rel, cols)
	})
}

// CreateDataFrameFromRDD makes a DataFrame of an RDD of structs (columns
// as for CreateDataFrame), keeping its partitions. The RDD is computed
// when an action runs, by a job of its own.
func CreateDataFrameFromRDD[T any](s *Session, r *rdd.RDD[T]) *DataFrame {
	if s == nil {
		return &DataFrame{err: errors.New("dataframe.CreateDataFrameFromRDD: nil session")}
	}
	if r == nil {
		return s.failed(errors.New("dataframe.CreateDataFrameFromRDD: nil RDD"))
	}
	if err := r.Err(); err != nil {
		return s.failed(fmt.Errorf("dataframe.CreateDataFrameFromRDD: %w", err))
	}
	fs, err := structFields(reflect.TypeFor[T]())
	if err != nil {
		return s.failed(fmt.Errorf("dataframe.CreateDataFrameFromRDD: %w", err))
	}
	src := &rddSource[T]{r: r, fs: fs, schema: schemaOf(fs), batch: s.cfg.exec.BatchRows}
	scan, err := plan.NewScan(src, nil, nil)
	if err != nil {
		return s.failed(err)
	}
	return &DataFrame{s: s, plan: scan}
}

// CollectAs runs the query and converts each row into a T, matching
// columns to fields by tag or name (case-insensitively). Every field must
// have a column; extra columns are ignored. Null goes into pointer fields
// as nil and into other fields as the zero value.
func CollectAs[T any](ctx context.Context, df *DataFrame) ([]T, error) {
	fs, err := structFields(reflect.TypeFor[T]())
	if err != nil {
		return nil, fmt.Errorf("dataframe.CollectAs: %w", err)
	}
	if err := df.Err(); err != nil {
		return nil, err
	}
	cols := df.Columns()
	idx := make([]int, len(fs))
	for i, f := range fs {
		idx[i] = -1
		for j, c := range cols {
			if c == f.name || (idx[i] < 0 && strings.EqualFold(c, f.name)) {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return nil, fmt.Errorf("dataframe.CollectAs: field %s (column %q) has no column; available columns: %s", f.typ, f.name, strings.Join(cols, ", "))
		}
	}
	rows, err := df.Collect(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(rows))
	for r, row := range rows {
		v := reflect.ValueOf(&out[r]).Elem()
		if v.Kind() == reflect.Pointer {
			v.Set(reflect.New(v.Type().Elem()))
			v = v.Elem()
		}
		for i, f := range fs {
			if err := setValue(v.FieldByIndex(f.index), row[idx[i]]); err != nil {
				return nil, fmt.Errorf("dataframe.CollectAs: row %d, column %q: %w", r, f.name, err)
			}
		}
	}
	return out, nil
}

// setValue stores a Row value into a Go field.
func setValue(dst reflect.Value, v any) error {
	if v == nil {
		dst.SetZero()
		return nil
	}
	if dst.Kind() == reflect.Pointer {
		p := reflect.New(dst.Type().Elem())
		if err := setValue(p.Elem(), v); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	}
	if l, ok := v.([]any); ok && dst.Kind() == reflect.Slice {
		s := reflect.MakeSlice(dst.Type(), len(l), len(l))
		for i, e := range l {
			if err := setValue(s.Index(i), e); err != nil {
				return err
			}
		}
		dst.Set(s)
		return nil
	}
	src := reflect.ValueOf(v)
	switch {
	case src.Type().AssignableTo(dst.Type()):
		dst.Set(src)
	case src.CanInt() && dst.CanInt():
		dst.SetInt(src.Int())
	case src.CanInt() && dst.CanUint():
		dst.SetUint(uint64(src.Int()))
	case src.CanInt() && dst.CanFloat():
		dst.SetFloat(float64(src.Int()))
	case src.CanFloat() && dst.CanFloat():
		dst.SetFloat(src.Float())
	case src.Type().ConvertibleTo(dst.Type()) && src.Kind() == dst.Kind():
		dst.Set(src.Convert(dst.Type()))
	default:
		return fmt.Errorf("cannot store %T in a %s field", v, dst.Type())
	}
	return nil
}
