package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/spate-io/spate/checkpoint"
)

// metadata is the payload of the store-root metadata file.
type metadata struct {
	Format        int `json:"format"`
	NumPartitions int `json:"numPartitions"`
}

// Provider gives access to the state of one query: every stateful operator
// and state partition under <root>/state. Create it once per query run with
// [NewProvider]; it is safe for concurrent use.
type Provider struct {
	dir           string // <root>/state
	numPartitions int
	opts          options

	mu         sync.Mutex
	closed     bool
	partitions map[partitionKey]*Partition
}

type partitionKey struct {
	operator  string
	partition int
}

// NewProvider opens the state directory <root>/state of the query whose
// checkpoint location is root, creating it if needed. The first run records
// numPartitions in <root>/state/metadata-…; a later run with another number
// gets a [*PartitionCountMismatchError].
func NewProvider(root string, numPartitions int, opts ...Option) (*Provider, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if root == "" {
		return nil, errors.New("state: NewProvider: empty checkpoint root")
	}
	if numPartitions < 1 {
		return nil, fmt.Errorf("state: NewProvider: numPartitions %d: must be at least 1", numPartitions)
	}
	dir := filepath.Join(root, "state")
	d, err := checkpoint.Open(dir, checkpoint.WithFS(o.fs))
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", dir, err)
	}
	path := filepath.Join(dir, checkpoint.FileName(seriesMeta, 0))
	metaErr := func(op string, err error) error {
		return &FileError{Operator: "", Partition: -1, Kind: "metadata", Path: path, Op: op, Err: err}
	}
	payload, err := d.Read(seriesMeta, 0, kindMeta)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		b, _ := json.Marshal(metadata{Format: payloadVersion, NumPartitions: numPartitions})
		if err := d.Write(seriesMeta, 0, kindMeta, b); err != nil {
			return nil, metaErr("write", err)
		}
	case err != nil:
		return nil, metaErr("read", err)
	default:
		var m metadata
		if err := json.Unmarshal(payload, &m); err != nil {
			return nil, metaErr("read", &checkpoint.CorruptError{Path: path, Reason: "bad metadata: " + err.Error()})
		}
		if m.Format != payloadVersion {
			return nil, metaErr("read", fmt.Errorf("state format %d, this build reads %d", m.Format, payloadVersion))
		}
		if m.NumPartitions != numPartitions {
			return nil, &PartitionCountMismatchError{Path: path, Recorded: m.NumPartitions, Requested: numPartitions}
		}
	}
	return &Provider{dir: dir, numPartitions: numPartitions, opts: o, partitions: make(map[partitionKey]*Partition)}, nil
}

// Dir returns the state directory, <root>/state.
func (p *Provider) Dir() string { return p.dir }

// NumPartitions returns the number of state partitions.
func (p *Provider) NumPartitions() int { return p.numPartitions }

func checkOperator(id string) error {
	if id == "" || id == "." || id == ".." || strings.HasPrefix(id, ".") ||
		strings.ContainsRune(id, '/') || strings.ContainsRune(id, filepath.Separator) ||
		strings.HasPrefix(id, seriesMeta+"-") {
		return fmt.Errorf("state: operator id %q: want a non-empty plain name without path separators, not starting with a dot", id)
	}
	return nil
}

// Partition returns the state of one partition of one operator, stored in
// <root>/state/<operatorID>/<partition>/, creating the directory if needed.
// Every call with the same arguments returns the same *Partition, which
// keeps the latest version in memory between batches.
func (p *Provider) Partition(operatorID string, partition int) (*Partition, error) {
	if err := checkOperator(operatorID); err != nil {
		return nil, err
	}
	if partition < 0 || partition >= p.numPartitions {
		return nil, fmt.Errorf("state: operator %q: partition %d is outside 0..%d", operatorID, partition, p.numPartitions-1)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	k := partitionKey{operatorID, partition}
	if pt := p.partitions[k]; pt != nil {
		return pt, nil
	}
	path := filepath.Join(p.dir, operatorID, strconv.Itoa(partition))
	// Two Dirs on the same directory: a checkpoint.Dir serializes its
	// writes, and a delta write must not wait for a snapshot write. Their
	// own pruning is off (this package removes files itself), so they do
	// not interfere.
	d, err := checkpoint.Open(path, checkpoint.WithFS(p.opts.fs), checkpoint.Retain(math.MaxInt32))
	if err != nil {
		return nil, fmt.Errorf("state: operator %q partition %d: %w", operatorID, partition, err)
	}
	sd, err := checkpoint.Open(path, checkpoint.WithFS(p.opts.fs), checkpoint.Retain(math.MaxInt32))
	if err != nil {
		return nil, fmt.Errorf("state: operator %q partition %d: %w", operatorID, partition, err)
	}
	pt := &Partition{opts: &p.opts, operator: operatorID, partition: partition, path: path, dir: d, snapDir: sd}
	p.partitions[k] = pt
	return pt, nil
}

// Close waits for the background snapshots of every partition and makes
// later calls to [Provider.Partition] and [Partition.Load] fail with
// [ErrClosed]. It returns ctx.Err() if ctx ends first (the snapshots then
// finish on their own). Stores still open may be committed or aborted.
func (p *Provider) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	pts := make([]*Partition, 0, len(p.partitions))
	for _, pt := range p.partitions {
		pts = append(pts, pt)
	}
	p.mu.Unlock()
	for _, pt := range pts {
		pt.mu.Lock()
		pt.closed = true
		pt.mu.Unlock()
		if err := pt.WaitSnapshot(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Unload drops a partition's in-memory state, for instance when the
// partition moved to another instance: it waits for the partition's
// background snapshot and forgets the *Partition, so that a later
// [Provider.Partition] starts again from files. A partition with an open
// [Store] is not unloaded ([ErrStoreInUse]); unloading a partition that is
// not loaded does nothing. The *Partition value must not be used after.
func (p *Provider) Unload(ctx context.Context, operatorID string, partition int) error {
	k := partitionKey{operatorID, partition}
	p.mu.Lock()
	pt := p.partitions[k]
	p.mu.Unlock()
	if pt == nil {
		return nil
	}
	pt.mu.Lock()
	if pt.active != nil {
		pt.mu.Unlock()
		return fmt.Errorf("state: operator %q partition %d: unload: %w", operatorID, partition, ErrStoreInUse)
	}
	pt.closed = true // no Load from now on
	pt.mu.Unlock()
	if err := pt.WaitSnapshot(ctx); err != nil {
		return err
	}
	pt.mu.Lock()
	pt.base, pt.layers, pt.undo, pt.loaded = nil, nil, nil, false
	pt.mu.Unlock()
	p.mu.Lock()
	if p.partitions[k] == pt {
		delete(p.partitions, k)
	}
	p.mu.Unlock()
	return nil
}
