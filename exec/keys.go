package exec

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"

	"github.com/spate-io/spate/expr"
)

// keyMap assigns dense ids (0, 1, ...) to distinct key rows. One to
// three int64-like key columns take a fast path keyed by the tuple of
// values (an event-time window and a key, say) in a tupleMap; other keys
// are encoded into bytes. Nulls form a key of their own (on the tuple
// path, one null key has its own id, and rows of several keys with a
// null are encoded).
type keyMap struct {
	fast   bool // one int64-like key: tuples
	str    bool // one string key: strs, keyed by the value itself
	multi  int  // 2 or 3 int64-like keys: tuples
	tuples tupleMap
	nullID int64 // id of the null key on the fast paths; -1 for none
	strs   map[string]uint32
	n      int
	buf    []byte
}

func newKeyMap(types []arrow.DataType) *keyMap {
	m := &keyMap{nullID: -1}
	switch {
	case len(types) == 1 && fastKey(types[0]):
		m.fast = true
	case len(types) == 1 && types[0].ID() == arrow.STRING:
		m.str = true
		m.strs = map[string]uint32{}
	case (len(types) == 2 || len(types) == 3) && allFast(types):
		m.multi = len(types)
		m.strs = map[string]uint32{} // rows with a null
	default:
		m.strs = map[string]uint32{}
	}
	return m
}

func allFast(types []arrow.DataType) bool {
	for _, t := range types {
		if !fastKey(t) {
			return false
		}
	}
	return true
}

// tuple returns row i's key values on the tuple path.
func tuple(vals [][]int64, i int) (t [3]int64) {
	for j, v := range vals {
		t[j] = v[i]
	}
	return t
}

// reserve makes room for n keys (on the tuple paths; the others grow as
// Go maps do).
func (m *keyMap) reserve(n int) {
	if m.fast || m.multi > 0 {
		m.tuples.reserve(n)
	}
}

// addTuple returns the id of the key tuple t, adding it if new.
func (m *keyMap) addTuple(t [3]int64) (uint32, bool) {
	id, added := m.tuples.add(t, uint32(m.n))
	if added {
		m.n++
	}
	return id, added
}

// fastKey reports whether a key of type dt can be read as []int64.
func fastKey(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT64, arrow.TIMESTAMP:
		return true
	}
	return false
}

// len returns the number of distinct keys.
func (m *keyMap) len() int { return m.n }

// assign writes the id of each of the n rows' key into ids, adding new
// keys; newRows receives the rows that made new keys, in order.
func (m *keyMap) assign(keys []arrow.Array, n int, ids []uint32, newRows []int32) []int32 {
	if m.fast {
		k := keys[0]
		vals := expr.Values[int64](k)
		hasNulls := k.NullN() > 0
		if !hasNulls {
			return m.assignTuples([][]int64{vals}, n, ids, newRows)
		}
		for i := range n {
			if hasNulls && k.IsNull(i) {
				if m.nullID < 0 {
					m.nullID = int64(m.n)
					m.n++
					newRows = append(newRows, int32(i))
				}
				ids[i] = uint32(m.nullID)
				continue
			}
			id, added := m.addTuple([3]int64{vals[i]})
			if added {
				newRows = append(newRows, int32(i))
			}
			ids[i] = id
		}
		return newRows
	}
	if m.str {
		k := keys[0].(*array.String)
		hasNulls := k.NullN() > 0
		for i := range n {
			if hasNulls && k.IsNull(i) {
				if m.nullID < 0 {
					m.nullID = int64(m.n)
					m.n++
					newRows = append(newRows, int32(i))
				}
				ids[i] = uint32(m.nullID)
				continue
			}
			v := k.Value(i) // points into the array's buffer
			id, ok := m.strs[v]
			if !ok {
				id = uint32(m.n)
				m.strs[strings.Clone(v)] = id
				m.n++
				newRows = append(newRows, int32(i))
			}
			ids[i] = id
		}
		return newRows
	}
	if m.multi > 0 {
		vals := make([][]int64, len(keys))
		hasNulls := false
		for j, k := range keys {
			vals[j] = expr.Values[int64](k)
			hasNulls = hasNulls || k.NullN() > 0
		}
		if !hasNulls {
			return m.assignTuples(vals, n, ids, newRows)
		}
		var enc *encoder
		for i := range n {
			if anyNull(keys, i) {
				if enc == nil {
					enc = newEncoder(keys)
				}
				m.buf = enc.encode(m.buf[:0], i)
				id, ok := m.strs[string(m.buf)]
				if !ok {
					id = uint32(m.n)
					m.strs[string(m.buf)] = id
					m.n++
					newRows = append(newRows, int32(i))
				}
				ids[i] = id
				continue
			}
			id, added := m.addTuple(tuple(vals, i))
			if added {
				newRows = append(newRows, int32(i))
			}
			ids[i] = id
		}
		return newRows
	}
	enc := newEncoder(keys)
	for i := range n {
		m.buf = enc.encode(m.buf[:0], i)
		id, ok := m.strs[string(m.buf)]
		if !ok {
			id = uint32(m.n)
			m.strs[string(m.buf)] = id
			m.n++
			newRows = append(newRows, int32(i))
		}
		ids[i] = id
	}
	return newRows
}

// find returns the id of row i's key, without adding it. Keys with a
// null never match (join semantics). buf is the caller's scratch space:
// find is safe for concurrent use once the map is built.
func (m *keyMap) find(keys []arrow.Array, enc *encoder, i int, buf *[]byte) (uint32, bool) {
	for _, k := range keys {
		if k.IsNull(i) {
			return 0, false
		}
	}
	if m.fast {
		return m.tuples.find([3]int64{expr.Values[int64](keys[0])[i]})
	}
	if m.str {
		id, ok := m.strs[keys[0].(*array.String).Value(i)]
		return id, ok
	}
	if m.multi > 0 {
		var t [3]int64
		for j, k := range keys {
			t[j] = expr.Values[int64](k)[i]
		}
		return m.tuples.find(t)
	}
	*buf = enc.encode((*buf)[:0], i)
	id, ok := m.strs[string(*buf)]
	return id, ok
}

// assignTuples is assign for 1 to 3 key columns without nulls: the ids of
// the keys already known in one pass over the rows, then the new keys
// added in the order of their first rows.
func (m *keyMap) assignTuples(vals [][]int64, n int, ids []uint32, newRows []int32) []int32 {
	var b, c []int64
	if len(vals) > 1 {
		b = vals[1]
	}
	if len(vals) > 2 {
		c = vals[2]
	}
	ids = ids[:n]
	if !m.tuples.lookup(vals[0], b, c, ids) {
		return newRows
	}
	for i, id := range ids {
		if id != ^uint32(0) {
			continue
		}
		id, added := m.addTuple(tuple(vals, i))
		if added {
			newRows = append(newRows, int32(i))
		}
		ids[i] = id
	}
	return newRows
}

func anyNull(keys []arrow.Array, i int) bool {
	for _, k := range keys {
		if k.IsNull(i) {
			return true
		}
	}
	return false
}

// encoder writes key rows as bytes: per column a null marker, then the
// value (fixed width, or length-prefixed for strings).
type encoder struct {
	cols []func(buf []byte, i int) []byte
}

func newEncoder(keys []arrow.Array) *encoder {
	e := &encoder{cols: make([]func([]byte, int) []byte, len(keys))}
	for c, k := range keys {
		e.cols[c] = columnEncoder(k)
	}
	return e
}

func (e *encoder) encode(buf []byte, i int) []byte {
	for _, f := range e.cols {
		buf = f(buf, i)
	}
	return buf
}

func columnEncoder(a arrow.Array) func(buf []byte, i int) []byte {
	withNull := func(f func(buf []byte, i int) []byte) func([]byte, int) []byte {
		if a.NullN() == 0 {
			return func(buf []byte, i int) []byte { return f(append(buf, 1), i) }
		}
		return func(buf []byte, i int) []byte {
			if a.IsNull(i) {
				return append(buf, 0)
			}
			return f(append(buf, 1), i)
		}
	}
	switch x := a.(type) {
	case *array.String:
		return withNull(func(buf []byte, i int) []byte {
			s := x.Value(i)
			buf = binary.LittleEndian.AppendUint32(buf, uint32(len(s)))
			return append(buf, s...)
		})
	case *array.LargeString:
		return withNull(func(buf []byte, i int) []byte {
			s := x.Value(i)
			buf = binary.LittleEndian.AppendUint32(buf, uint32(len(s)))
			return append(buf, s...)
		})
	case *array.Binary:
		return withNull(func(buf []byte, i int) []byte {
			s := x.Value(i)
			buf = binary.LittleEndian.AppendUint32(buf, uint32(len(s)))
			return append(buf, s...)
		})
	case *array.Boolean:
		return withNull(func(buf []byte, i int) []byte {
			if x.Value(i) {
				return append(buf, 1)
			}
			return append(buf, 0)
		})
	case *array.Null:
		return func(buf []byte, i int) []byte { return append(buf, 0) }
	case *array.Float64:
		v := x.Float64Values()
		return withNull(func(buf []byte, i int) []byte {
			f := v[i]
			if f == 0 {
				f = 0 // -0 and 0 are one key
			}
			if math.IsNaN(f) {
				f = math.NaN()
			}
			return binary.LittleEndian.AppendUint64(buf, math.Float64bits(f))
		})
	}
	switch w := fixedWidth(a.DataType()); w {
	case 1:
		v := expr.Values[uint8](a)
		return withNull(func(buf []byte, i int) []byte { return append(buf, v[i]) })
	case 2:
		v := expr.Values[uint16](a)
		return withNull(func(buf []byte, i int) []byte { return binary.LittleEndian.AppendUint16(buf, v[i]) })
	case 4:
		v := expr.Values[uint32](a)
		return withNull(func(buf []byte, i int) []byte { return binary.LittleEndian.AppendUint32(buf, v[i]) })
	case 8:
		v := expr.Values[uint64](a)
		return withNull(func(buf []byte, i int) []byte { return binary.LittleEndian.AppendUint64(buf, v[i]) })
	}
	// Other types (lists, structs): their printed form.
	return withNull(func(buf []byte, i int) []byte {
		s := a.ValueStr(i)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(s)))
		return append(buf, s...)
	})
}

func fixedWidth(dt arrow.DataType) int {
	if fw, ok := dt.(arrow.FixedWidthDataType); ok && dt.ID() != arrow.BOOL {
		return fw.BitWidth() / 8
	}
	return 0
}

// mix64 is a 64-bit finaliser (from SplitMix64) spreading int64 keys over
// buckets.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// buckets computes the bucket (0 to n-1) of each row's key, the same on
// every task of a Context.
func buckets(seed maphash.Seed, keys []arrow.Array, rows, n int) []int32 {
	out := make([]int32, rows)
	if n == 1 {
		return out
	}
	if len(keys) == 1 && fastKey(keys[0].DataType()) {
		vals := expr.Values[int64](keys[0])
		for i := range out {
			if keys[0].IsNull(i) {
				continue
			}
			out[i] = int32(mix64(uint64(vals[i])) % uint64(n))
		}
		return out
	}
	if len(keys) == 1 && keys[0].DataType().ID() == arrow.STRING {
		k := keys[0].(*array.String)
		for i := range out {
			if k.IsValid(i) {
				out[i] = int32(maphash.String(seed, k.Value(i)) % uint64(n))
			}
		}
		return out
	}
	enc := newEncoder(keys)
	var buf []byte
	for i := range out {
		buf = enc.encode(buf[:0], i)
		out[i] = int32(maphash.Bytes(seed, buf) % uint64(n))
	}
	return out
}

// takeBatch returns the rows idx of b (idx may hold nulls for null rows).
func takeBatch(c *Context, b arrow.RecordBatch, idx arrow.Array) (arrow.RecordBatch, error) {
	ctx := computeCtx(c)
	cols := make([]arrow.Array, b.NumCols())
	for i, col := range b.Columns() {
		out, err := compute.TakeArray(ctx, col, idx)
		if err != nil {
			releaseArrays(cols)
			return nil, fmt.Errorf("exec: take: %w", err)
		}
		cols[i] = out
	}
	defer releaseArrays(cols)
	return array.NewRecordBatch(b.Schema(), cols, int64(idx.Len())), nil
}

// takeArrays returns the rows idx of each array.
func takeArrays(c *Context, arrs []arrow.Array, idx arrow.Array) ([]arrow.Array, error) {
	ctx := computeCtx(c)
	out := make([]arrow.Array, len(arrs))
	for i, a := range arrs {
		t, err := compute.TakeArray(ctx, a, idx)
		if err != nil {
			releaseArrays(out)
			return nil, fmt.Errorf("exec: take: %w", err)
		}
		out[i] = t
	}
	return out, nil
}

func releaseArrays(arrs []arrow.Array) {
	for _, a := range arrs {
		if a != nil {
			a.Release()
		}
	}
}

func int32Array(c *Context, v []int32) arrow.Array {
	b := array.NewInt32Builder(c.Alloc)
	defer b.Release()
	b.AppendValues(v, nil)
	return b.NewArray()
}

// appendByBucket appends b's rows to out[bucket] for the bucket of each
// row (the map side of a shuffle into len(out) buckets).
func appendByBucket(c *Context, b arrow.RecordBatch, bk []int32, out [][]arrow.RecordBatch) error {
	split, err := splitByBucket(c, b, bk, len(out))
	if err != nil {
		return err
	}
	for i, bs := range split {
		out[i] = append(out[i], bs...)
	}
	return nil
}

// splitByBucket splits b into n batches by the bucket of each row.
func splitByBucket(c *Context, b arrow.RecordBatch, bk []int32, n int) ([][]arrow.RecordBatch, error) {
	out := make([][]arrow.RecordBatch, n)
	if n == 1 {
		if b.NumRows() > 0 {
			b.Retain()
			out[0] = []arrow.RecordBatch{b}
		}
		return out, nil
	}
	idx := make([][]int32, n)
	for i, x := range bk {
		idx[x] = append(idx[x], int32(i))
	}
	for k, rows := range idx {
		if len(rows) == 0 {
			continue
		}
		ia := int32Array(c, rows)
		t, err := takeBatch(c, b, ia)
		ia.Release()
		if err != nil {
			for _, bs := range out {
				releaseBatches(bs)
			}
			return nil, err
		}
		out[k] = []arrow.RecordBatch{t}
	}
	return out, nil
}

// concatBatches concatenates batches of one schema into one batch.
func concatBatches(c *Context, s *arrow.Schema, bs []arrow.RecordBatch) (arrow.RecordBatch, error) {
	if len(bs) == 1 {
		bs[0].Retain()
		return bs[0], nil
	}
	cols := make([]arrow.Array, s.NumFields())
	var rows int64
	for _, b := range bs {
		rows += b.NumRows()
	}
	for i := range cols {
		if len(bs) == 0 {
			cols[i] = array.MakeArrayOfNull(c.Alloc, s.Field(i).Type, 0)
			continue
		}
		parts := make([]arrow.Array, len(bs))
		for j, b := range bs {
			parts[j] = b.Column(i)
		}
		a, err := array.Concatenate(parts, c.Alloc)
		if err != nil {
			releaseArrays(cols)
			return nil, fmt.Errorf("exec: concatenate: %w", err)
		}
		cols[i] = a
	}
	defer releaseArrays(cols)
	return array.NewRecordBatch(s, cols, rows), nil
}
