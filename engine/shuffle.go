package engine

import (
	"fmt"
	"sync"
)

// shuffleOutput holds the blocks written by one shuffle's map tasks.
type shuffleOutput struct {
	mu      sync.Mutex
	buckets int
	maps    [][]Block // map partition -> bucket -> block; nil until written
	written int
}

func newShuffleOutput(numMaps, buckets int) *shuffleOutput {
	return &shuffleOutput{buckets: buckets, maps: make([][]Block, numMaps)}
}

func (s *shuffleOutput) complete() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written == len(s.maps)
}

// missing returns the map partitions not yet written.
func (s *shuffleOutput) missing() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []int
	for p, b := range s.maps {
		if b == nil {
			parts = append(parts, p)
		}
	}
	return parts
}

func (s *shuffleOutput) put(mapPartition int, blocks []Block) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maps[mapPartition] == nil {
		s.written++
	}
	s.maps[mapPartition] = blocks
}

// bucket returns block b of every map partition, in map-partition order.
func (s *shuffleOutput) bucket(b int) ([]Block, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written != len(s.maps) {
		return nil, fmt.Errorf("only %d of %d map outputs are written", s.written, len(s.maps))
	}
	out := make([]Block, len(s.maps))
	for m, blocks := range s.maps {
		out[m] = blocks[b]
	}
	return out, nil
}

// shuffleOutputFor returns the output area of a shuffle, creating it.
func (c *Context) shuffleOutputFor(dep *ShuffleDependency) *shuffleOutput {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.shuffles[dep.id]
	if s == nil {
		s = newShuffleOutput(dep.Parent.NumPartitions(), dep.NumBuckets)
		c.shuffles[dep.id] = s
	}
	return s
}

// RemoveShuffle releases a shuffle's map outputs. A later job that needs
// the shuffle recomputes it.
func (c *Context) RemoveShuffle(shuffleID int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.shuffles, shuffleID)
	delete(c.stages, shuffleID)
}

// ShuffleWritten reports whether every map output of a shuffle is written.
func (c *Context) ShuffleWritten(shuffleID int) bool {
	c.mu.Lock()
	s := c.shuffles[shuffleID]
	c.mu.Unlock()
	return s != nil && s.complete()
}
