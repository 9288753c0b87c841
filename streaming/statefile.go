package streaming

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/checkpoint"
	"github.com/spate-io/spate/state"
)

// DefaultNumStatePartitions is the number of state partitions of a query
// whose first run did not set [NumStatePartitions].
const DefaultNumStatePartitions = 4

// NumStatePartitions sets the number of state partitions: each stateful
// operator's state is split by a hash of its key into n partitions, each
// with its own versioned store and files (see the package documentation,
// "State"). The number is recorded at the query's first run and cannot
// change afterwards: a restart from the same checkpoint location with
// another number fails at Start. n must be at least 1. Default: 4
// (DefaultNumStatePartitions): every batch writes one delta file per
// partition, and the partitions are written in parallel, so a few keep
// the per-batch cost low on one machine while leaving room to spread the
// state over a few instances later.
func NumStatePartitions(n int) Option {
	return func(c *config) { c.state.partitions, c.state.partitionsSet = n, true }
}

// StateSnapshotInterval makes every state partition write a snapshot (its
// whole state) once k batches changed it since the last one; loading the
// state after a restart replays at most about k delta files. It can change
// between runs. k must be at least 1. Default: 10
// (state.DefaultSnapshotInterval).
func StateSnapshotInterval(k int) Option {
	return func(c *config) { c.state.snapshotInterval, c.state.snapshotSet = k, true }
}

// stateConfig is the state store part of a query's configuration.
type stateConfig struct {
	partitions       int
	partitionsSet    bool
	snapshotInterval int
	snapshotSet      bool
}

// openState checks the state options and, for a query with a stateful
// operator, opens the state store under root (the checkpoint location) and
// attaches the operator to it.
func (q *Query) openState(root string) error {
	sc := q.cfg.state
	n := DefaultNumStatePartitions
	if sc.partitionsSet {
		if sc.partitions < 1 {
			return fmt.Errorf("NumStatePartitions(%d) (writer option numStatePartitions): must be at least 1", sc.partitions)
		}
		n = sc.partitions
	}
	var opts []state.Option
	if sc.snapshotSet {
		if sc.snapshotInterval < 1 {
			return fmt.Errorf("StateSnapshotInterval(%d) (writer option stateSnapshotInterval): must be at least 1", sc.snapshotInterval)
		}
		opts = append(opts, state.SnapshotInterval(sc.snapshotInterval))
	}
	if len(q.ops) == 0 {
		return nil
	}
	opts = append(opts, state.WithClock(q.cfg.clock))
	prov, err := state.NewProvider(root, n, opts...)
	if pm := (*state.PartitionCountMismatchError)(nil); errors.As(err, &pm) {
		return fmt.Errorf("numStatePartitions %d: this checkpoint's state has %d state partitions and the number cannot change; set numStatePartitions back to %d or use a new checkpoint location: %w",
			n, pm.Recorded, pm.Recorded, err)
	}
	if err != nil {
		return err
	}
	q.state = prov
	// The operator id names the table's directory, state/<id>/: the
	// operator's kind and its position among the query's stateful
	// operators (those below first), and the table's role when it has
	// several (a join's two sides).
	for i, op := range q.ops {
		for _, t := range op.stateTables() {
			opID := op.kind() + "-" + strconv.Itoa(i)
			if t.role != "" {
				opID += "-" + t.role
			}
			t.ts.uniqueKeys = t.unique
			if err := t.ts.attach(prov, opID, t.keyCols); err != nil {
				return err
			}
		}
	}
	return nil
}

// closeState releases the stateful operators' tables and waits for the
// state store's background snapshots.
func (q *Query) closeState() {
	for _, op := range q.ops {
		op.close()
	}
	if q.state != nil {
		if err := q.state.Close(context.Background()); err != nil {
			q.cfg.logger.Warn("streaming: closing the state store", "err", err)
		}
	}
}

// stateMemory estimates the memory op's state store takes (not counting
// its Arrow tables).
func stateMemory(op statefulOp) int64 {
	var n int64
	for _, t := range op.stateTables() {
		for _, pt := range t.ts.parts {
			n += pt.Metrics().MemoryBytes
		}
	}
	return n
}

// stateTable is one table of a stateful operator's state: its number of
// key columns (the first ones), whether no two rows have the same key,
// and its role (empty for an operator with one table).
type stateTable struct {
	ts      *tableState
	keyCols int
	unique  bool
	role    string
}

// stateTables: an aggregation's groups are its key and unique.
func (sa *streamingAgg) stateTables() []stateTable {
	return []stateTable{{ts: &sa.st, keyCols: len(sa.groupNames), unique: true}}
}

// stateTables: a deduplication's keys are its key, and may repeat (rows
// with nulls, which never match).
func (sd *streamingDedup) stateTables() []stateTable {
	return []stateTable{{ts: &sd.st, keyCols: len(sd.keys)}}
}

// stateTables: a join buffers each side's rows under a row id.
func (sj *streamingJoin) stateTables() []stateTable {
	return []stateTable{
		{ts: &sj.left.st, keyCols: 1, unique: true, role: "left"},
		{ts: &sj.right.st, keyCols: 1, unique: true, role: "right"},
	}
}

// tableState is a stateful operator's state: an Arrow table held in
// memory (the working set of the operator's plans), persisted through a
// state store ([state.Provider]) split into state partitions. The first
// keyCols columns of the table are the key, the others the value; each
// row is encoded (see staterow.go) and routed to a partition by a hash of
// its key. Writing batch id's table commits, in every partition, the
// changes from the previous batch's table (the rows put and the keys
// deleted) as state version id+1: state version 0 is the empty state, so
// batch id starts from version id (the state of batch id-1) whatever an
// earlier attempt of it left, and a batch re-run after a failure starts
// from the previous batch's state.
type tableState struct {
	dir  string // <checkpoint>/state/<operator>, for messages
	kind string // the checkpoint file kind of the operator's schema file, such as "aggstate"
	what string // for messages, such as "aggregation state"

	opID    string
	keyCols int // the first keyCols columns are the key
	// uniqueKeys says that no two rows of a written table have the same
	// key, which spares write a set of the keys when nothing was deleted.
	uniqueKeys bool
	parts      []*state.Partition // by state partition

	batches []arrow.RecordBatch // retained
	schema  *arrow.Schema
	rows    int64
	// pending is the result of the write writeAsync started, nil when
	// none runs.
	pending chan error
}

// stateVersion is the state version that holds the state after batch id:
// state versions start at 0 (empty), batch ids at 0.
func stateVersion(batchID int64) int64 { return batchID + 1 }

// stateSchemaFile names the file in the operator's directory that records
// the columns of its state, so that a query changed since the state was
// written is refused rather than decoded wrongly.
const stateSchemaFile = "schema"

type stateSchema struct {
	Format     int           `json:"format"` // the row format, 1
	KeyColumns int           `json:"keyColumns"`
	Columns    []stateColumn `json:"columns"`
}

type stateColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func stateSchemaOf(s *arrow.Schema, keyCols int) stateSchema {
	out := stateSchema{Format: 1, KeyColumns: keyCols}
	for _, f := range s.Fields() {
		out.Columns = append(out.Columns, stateColumn{Name: f.Name, Type: f.Type.String()})
	}
	return out
}

// attach binds the state to operator opID of prov: it checks that every
// column can be kept in state, and that the state on disk (if any) has the
// same columns.
func (ts *tableState) attach(prov *state.Provider, opID string, keyCols int) error {
	if err := checkStateSchema(ts.schema); err != nil {
		return fmt.Errorf("%w: the %s: %w", ErrUnsupported, ts.what, err)
	}
	if keyCols < 0 || keyCols > ts.schema.NumFields() {
		return fmt.Errorf("streaming: the %s has %d key columns of %d", ts.what, keyCols, ts.schema.NumFields())
	}
	ts.opID, ts.keyCols, ts.dir = opID, keyCols, filepath.Join(prov.Dir(), opID)
	if err := os.MkdirAll(ts.dir, 0o755); err != nil {
		return err
	}
	// A checkpoint of an earlier release kept the table as one Arrow file
	// per batch in this directory.
	if ents, err := os.ReadDir(ts.dir); err == nil {
		for _, e := range ents {
			if len(e.Name()) == 20 && e.Type().IsRegular() && len(bytes.Trim([]byte(e.Name()), "0123456789")) == 0 {
				return fmt.Errorf("%s holds %s files of an earlier release of spate (one Arrow file per batch, %s), which this one does not read: use a new checkpoint location",
					ts.dir, ts.what, e.Name())
			}
		}
	}
	want := stateSchemaOf(ts.schema, keyCols)
	path := filepath.Join(ts.dir, stateSchemaFile)
	payload, err := checkpoint.ReadFile(path, ts.kind)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		b, err := json.Marshal(want)
		if err != nil {
			return err
		}
		if err := checkpoint.WriteFile(ts.dir, stateSchemaFile, ts.kind, b); err != nil {
			return fmt.Errorf("writing the %s's columns: %w", ts.what, err)
		}
	case err != nil:
		return fmt.Errorf("the %s's columns: %w", ts.what, err)
	default:
		var got stateSchema
		if err := json.Unmarshal(payload, &got); err != nil {
			return fmt.Errorf("the %s's columns: %w", ts.what, &checkpoint.CorruptError{Path: path, Reason: err.Error()})
		}
		if got.Format != want.Format || got.KeyColumns != want.KeyColumns || !slices.Equal(got.Columns, want.Columns) {
			return fmt.Errorf("%s: the checkpoint holds a %s with columns %v (%d key columns), this query's has %v (%d): the query changed; use a new checkpoint location",
				path, ts.what, got.Columns, got.KeyColumns, want.Columns, want.KeyColumns)
		}
	}
	ts.parts = make([]*state.Partition, prov.NumPartitions())
	for p := range ts.parts {
		pt, err := prov.Partition(opID, p)
		if err != nil {
			return err
		}
		ts.parts[p] = pt
	}
	return nil
}

// eachPartition runs f for every state partition, in parallel, and returns
// the first error.
func (ts *tableState) eachPartition(f func(p int) error) error {
	if len(ts.parts) == 1 {
		return f(0)
	}
	errs := make([]error, len(ts.parts))
	var wg sync.WaitGroup
	for p := range ts.parts {
		wg.Go(func() { errs[p] = f(p) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// write stores bs (of schema s) as the state after batch id: in every
// partition, the rows that are new or changed since the state of batch
// id-1 are put, the keys no longer present deleted, and the result
// committed as version stateVersion(id). It does not change the table in
// memory (see replace). Rows with equal keys are kept once. prev, when
// not nil, is the table of batch id-1 (the current one, before replace):
// the batches bs shares with it are not looked at again.
func (ts *tableState) write(ctx context.Context, id int64, s *arrow.Schema, bs, prev []arrow.RecordBatch) error {
	if len(bs) > 0 {
		s = bs[0].Schema()
	}
	if !sameColumns(s, ts.schema) {
		return fmt.Errorf("streaming: the %s has columns %s, want %s", ts.what, s, ts.schema)
	}
	// prev, when given, is the table of batch id-1, which the store's
	// version stateVersion(id-1) holds. With unique keys, a batch of it
	// that the new table keeps as it is (the same batch: a join's buffered
	// rows that did not change) has its rows in the store already: only
	// the other batches are put, and only the keys of the batches it
	// dropped can be gone. Otherwise every row is compared.
	puts, dels, mode := bs, []arrow.RecordBatch(nil), changeTable
	if ts.uniqueKeys && len(prev) > 0 {
		was := make(map[arrow.RecordBatch]bool, len(prev))
		for _, b := range prev {
			was[b] = true
		}
		kept := make(map[arrow.RecordBatch]bool, len(bs))
		puts = nil
		for _, b := range bs {
			if was[b] {
				kept[b] = true
			} else {
				puts = append(puts, b)
			}
		}
		if len(kept) > 0 {
			mode = changeKeptBatches
			for _, b := range prev {
				if !kept[b] {
					dels = append(dels, b)
				}
			}
		} else {
			puts = bs
		}
	}
	return ts.commit(ctx, id, puts, dels, mode)
}

// writeChanges stores the state after batch id as the changes to the
// state of batch id-1 (which the store's version stateVersion(id-1)
// holds): the rows of puts are put, then the keys of the rows of dels
// deleted (also those just put). It is write for a caller that knows what
// changed (an aggregation: the groups the batch touched, the groups the
// watermark finished), so the state's other rows are not looked at.
func (ts *tableState) writeChanges(ctx context.Context, id int64, puts, dels []arrow.RecordBatch) error {
	for _, b := range slices.Concat(puts, dels) {
		if !sameColumns(b.Schema(), ts.schema) {
			return fmt.Errorf("streaming: the %s has columns %s, want %s", ts.what, b.Schema(), ts.schema)
		}
	}
	return ts.commit(ctx, id, puts, dels, changeRows)
}

// How commit applies its puts and dels (see changePartition).
type changeMode int

const (
	changeTable       changeMode = iota // puts is the whole table; the keys not in it are deleted
	changeKeptBatches                   // the keys of dels not in puts are deleted (write with prev)
	changeRows                          // the keys of dels are deleted (writeChanges)
)

// commit makes the changes in every partition and commits them as state
// version stateVersion(id).
func (ts *tableState) commit(ctx context.Context, id int64, puts, dels []arrow.RecordBatch, mode changeMode) error {
	putRows, err := ts.encodeRows(puts)
	if err != nil {
		return err
	}
	delRows, err := ts.encodeRows(dels)
	if err != nil {
		return err
	}
	// Every partition's changes first, then the commits (each writes and
	// fsyncs a file): a goroutine blocked in fsync keeps its P for a
	// while, which delayed the changes of the partitions still to start.
	n := len(ts.parts)
	stores := make([]*state.Store, n)
	defer func() {
		for _, st := range stores {
			if st != nil {
				st.Abort() // nothing after a successful Commit
			}
		}
	}()
	if err := ts.eachPartition(func(p int) error {
		st, err := ts.changePartition(ctx, p, id, putRows, delRows, mode)
		stores[p] = st
		return err
	}); err != nil {
		return err
	}
	return ts.eachPartition(func(p int) error {
		v, err := stores[p].Commit(ctx)
		if err != nil {
			return fmt.Errorf("streaming: writing the %s of batch %d: %w", ts.what, id, err)
		}
		if v != stateVersion(id) {
			return fmt.Errorf("streaming: the %s of batch %d was committed as state version %d, want %d", ts.what, id, v, stateVersion(id))
		}
		return nil
	})
}

// encodedRows are batches of a table with their rows' key and value
// encoders and, with several state partitions, each row's partition.
type encodedRows struct {
	bs         []arrow.RecordBatch
	keys, vals []*rowEncoder
	route      [][]uint32 // nil with one partition
}

// encodeRows prepares bs's rows for the state partitions.
func (ts *tableState) encodeRows(bs []arrow.RecordBatch) (*encodedRows, error) {
	r := &encodedRows{bs: bs, keys: make([]*rowEncoder, len(bs)), vals: make([]*rowEncoder, len(bs))}
	for i, b := range bs {
		var err error
		if r.keys[i], err = newRowEncoder(b.Columns()[:ts.keyCols]); err != nil {
			return nil, fmt.Errorf("streaming: the %s: %w", ts.what, err)
		}
		if r.vals[i], err = newRowEncoder(b.Columns()[ts.keyCols:]); err != nil {
			return nil, fmt.Errorf("streaming: the %s: %w", ts.what, err)
		}
	}
	if n := len(ts.parts); n > 1 {
		r.route = make([][]uint32, len(bs))
		var buf []byte
		for i, b := range bs {
			rt := make([]uint32, b.NumRows())
			for j := range rt {
				buf = r.keys[i].encode(buf[:0], j)
				rt[j] = uint32(stateKeyHash(buf) % uint64(n))
			}
			r.route[i] = rt
		}
	}
	return r, nil
}

// mine reports whether row j of batch i belongs to partition p.
func (r *encodedRows) mine(p, i, j int) bool { return r.route == nil || r.route[i][j] == uint32(p) }

// keySet returns the keys of partition p's rows (strings sharing an
// arena, which is only appended to), and how many rows it has.
func (r *encodedRows) keySet(p int) (map[string]struct{}, int64) {
	var rows int64
	for i, b := range r.bs {
		for j := range int(b.NumRows()) {
			if r.mine(p, i, j) {
				rows++
			}
		}
	}
	seen := make(map[string]struct{}, rows)
	var arena, kb []byte
	for i, b := range r.bs {
		for j := range int(b.NumRows()) {
			if !r.mine(p, i, j) {
				continue
			}
			kb = r.keys[i].encode(kb[:0], j)
			k := ""
			if len(kb) > 0 {
				start := len(arena)
				arena = append(arena, kb...)
				k = unsafe.String(&arena[start], len(kb))
			}
			seen[k] = struct{}{}
		}
	}
	return seen, rows
}

// changePartition loads partition p's state of batch id-1 and makes in it
// the changes to the table of batch id, for the caller to commit, or
// abort (also after an error): puts' rows of the partition new or changed
// are put, and keys deleted as mode says.
func (ts *tableState) changePartition(ctx context.Context, p int, id int64, puts, dels *encodedRows, mode changeMode) (*state.Store, error) {
	pt := ts.parts[p]
	st, err := pt.Load(ctx, stateVersion(id-1))
	if err != nil {
		return nil, fmt.Errorf("streaming: the %s of batch %d: %w", ts.what, id-1, err)
	}
	var kb, vb []byte
	var rows int64
	for i, b := range puts.bs {
		for j := range int(b.NumRows()) {
			if !puts.mine(p, i, j) {
				continue
			}
			rows++
			kb = puts.keys[i].encode(kb[:0], j)
			vb = puts.vals[i].encode(vb[:0], j)
			if old, ok := st.Get(kb); !ok || !bytes.Equal(old, vb) {
				if err := st.Put(kb, vb); err != nil {
					return st, err
				}
			}
		}
	}
	if mode != changeTable {
		if len(dels.bs) == 0 {
			return st, nil
		}
		var seen map[string]struct{}
		if mode == changeKeptBatches {
			seen, _ = puts.keySet(p)
		}
		for i, b := range dels.bs {
			for j := range int(b.NumRows()) {
				if !dels.mine(p, i, j) {
					continue
				}
				kb = dels.keys[i].encode(kb[:0], j)
				if _, put := seen[string(kb)]; !put {
					if err := st.Delete(kb); err != nil {
						return st, err
					}
				}
			}
		}
		return st, nil
	}
	// The store now has the keys of the previous version and of the new
	// table. With unique keys, as many keys as rows means that every key
	// of the previous version is in the table: nothing to delete.
	// Otherwise delete the keys not in the table.
	if !ts.uniqueKeys || st.Len() != rows {
		seen, _ := puts.keySet(p)
		if st.Len() != int64(len(seen)) {
			for k := range st.All() {
				if _, ok := seen[string(k)]; !ok {
					if err := st.Delete(k); err != nil {
						return st, err
					}
				}
			}
		}
	}
	return st, nil
}

// writeAsync runs write in another goroutine; wait returns its error. The
// table bs must stay as it is until then (replace waits for the write
// before it releases a table). The batch's commit, which must follow the
// state's, waits for it (Query.runBatch), so the write's files and fsyncs
// overlap the batch's output and sink.
func (ts *tableState) writeAsync(ctx context.Context, id int64, s *arrow.Schema, bs []arrow.RecordBatch) {
	ts.async(func() error { return ts.write(ctx, id, s, bs, nil) })
}

// writeChangesAsync runs writeChanges in another goroutine, as
// writeAsync; it releases puts and dels when done.
func (ts *tableState) writeChangesAsync(ctx context.Context, id int64, puts, dels []arrow.RecordBatch) {
	ts.async(func() error {
		defer releaseAll(puts)
		defer releaseAll(dels)
		return ts.writeChanges(ctx, id, puts, dels)
	})
}

func (ts *tableState) async(write func() error) {
	_ = ts.wait() // none is pending in a batch's sequence; an earlier one's error was reported
	done := make(chan error, 1)
	ts.pending = done
	go func() { done <- write() }()
}

// wait waits for the write writeAsync started, if any, and returns its
// error.
func (ts *tableState) wait() error {
	if ts.pending == nil {
		return nil
	}
	err := <-ts.pending
	ts.pending = nil
	return err
}

// replace makes bs (owned by the state from now on) the current table,
// once a write in progress is done.
func (ts *tableState) replace(s *arrow.Schema, bs []arrow.RecordBatch) {
	_ = ts.wait() // a failed write failed its batch already
	releaseAll(ts.batches)
	ts.batches, ts.schema, ts.rows = bs, s, 0
	if len(bs) > 0 {
		ts.schema = bs[0].Schema()
	}
	for _, b := range bs {
		ts.rows += b.NumRows()
	}
}

// stateBatchRows bounds the rows of one batch of a table rebuilt by load.
const stateBatchRows = 1 << 16

// load makes the state after batch id current (id < 0: empty): it loads
// state version stateVersion(id) of every partition and rebuilds the
// table, partition after partition, each in the order of the encoded keys.
func (ts *tableState) load(ctx context.Context, id int64, alloc memory.Allocator) error {
	ts.replace(ts.schema, nil)
	if id < 0 {
		return nil
	}
	parts := make([][]arrow.RecordBatch, len(ts.parts))
	err := ts.eachPartition(func(p int) error {
		bs, err := ts.loadPartition(ctx, p, id, alloc)
		parts[p] = bs
		return err
	})
	var bs []arrow.RecordBatch
	for _, pb := range parts {
		bs = append(bs, pb...)
	}
	if err != nil {
		releaseAll(bs)
		return err
	}
	ts.replace(ts.schema, bs)
	return nil
}

func (ts *tableState) loadPartition(ctx context.Context, p int, id int64, alloc memory.Allocator) ([]arrow.RecordBatch, error) {
	pt := ts.parts[p]
	version := stateVersion(id)
	st, err := pt.Load(ctx, version)
	if errors.Is(err, state.ErrVersionNotFound) {
		return nil, fmt.Errorf("streaming: the %s of committed batch %d (state version %d) is missing; the checkpoint is damaged: %w", ts.what, id, version, err)
	}
	if err != nil {
		return nil, fmt.Errorf("streaming: loading the %s of batch %d: %w", ts.what, id, err)
	}
	defer st.Abort()
	type entry struct{ k, v []byte }
	var rows []entry
	for k, v := range st.All() {
		rows = append(rows, entry{k, v})
	}
	slices.SortFunc(rows, func(a, b entry) int { return bytes.Compare(a.k, b.k) })
	fields := ts.schema.Fields()
	bld := array.NewRecordBuilder(alloc, ts.schema)
	defer bld.Release()
	keyDec, err := newRowDecoder(fields[:ts.keyCols], bld.Fields()[:ts.keyCols])
	if err != nil {
		return nil, err
	}
	valDec, err := newRowDecoder(fields[ts.keyCols:], bld.Fields()[ts.keyCols:])
	if err != nil {
		return nil, err
	}
	var out []arrow.RecordBatch
	for i, e := range rows {
		if err := keyDec.decode(e.k); err != nil {
			releaseAll(out)
			return nil, ts.rowError(pt, version, "key", e.k, err)
		}
		if err := valDec.decode(e.v); err != nil {
			releaseAll(out)
			return nil, ts.rowError(pt, version, "value", e.k, err)
		}
		if (i+1)%stateBatchRows == 0 || i == len(rows)-1 {
			out = append(out, bld.NewRecordBatch())
		}
	}
	return out, nil
}

func (ts *tableState) rowError(pt *state.Partition, version int64, what string, key []byte, err error) error {
	if len(key) > 32 {
		key = key[:32]
	}
	return fmt.Errorf("streaming: the %s of operator %q, state partition %d (%s), version %d: the %s of key %x: %w; the checkpoint is damaged or was written by another query",
		ts.what, ts.opID, pt.Index(), pt.Dir(), version, what, key, err)
}

// close releases the table.
func (ts *tableState) close() { ts.replace(ts.schema, nil) }

// sameColumns reports whether two schemas have the same column names and
// types (nullability may differ).
func sameColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i, f := range a.Fields() {
		g := b.Field(i)
		if f.Name != g.Name || !arrow.TypeEqual(f.Type, g.Type) {
			return false
		}
	}
	return true
}
