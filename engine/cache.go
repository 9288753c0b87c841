package engine

import "sync"

// BlockCache keeps the computed partitions of persisted nodes in memory,
// keyed by node ID and partition. It holds blocks until they are removed
// with [BlockCache.Remove] or the Context is closed; it does not evict on
// memory pressure. It is safe for concurrent use.
type BlockCache struct {
	mu     sync.Mutex
	blocks map[int]map[int]Block // node ID -> partition -> block
}

func newBlockCache() *BlockCache {
	return &BlockCache{blocks: map[int]map[int]Block{}}
}

// Get returns the cached block of a node's partition.
func (c *BlockCache) Get(node, partition int) (Block, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.blocks[node][partition]
	return b, ok
}

// Put caches a node's partition, replacing what was there. Two tasks that
// compute the same partition at once both put it; the blocks are equal, so
// either may win.
func (c *BlockCache) Put(node, partition int, b Block) {
	c.mu.Lock()
	defer c.mu.Unlock()
	parts := c.blocks[node]
	if parts == nil {
		parts = map[int]Block{}
		c.blocks[node] = parts
	}
	parts[partition] = b
}

// Remove drops every cached partition of a node.
func (c *BlockCache) Remove(node int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.blocks, node)
}

// CachedPartitions returns how many partitions of a node are cached.
func (c *BlockCache) CachedPartitions(node int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.blocks[node])
}

func (c *BlockCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blocks = map[int]map[int]Block{}
}
