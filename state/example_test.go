package state_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/spate-io/spate/state"
)

// A streaming count per key: each batch loads the previous batch's version,
// updates it and commits the batch's version. A restart (a new Provider on
// the same checkpoint location) finds the committed state.
func Example() {
	ctx := context.Background()
	root, err := os.MkdirTemp("", "state-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)

	batches := [][]string{{"a", "b", "a"}, {"b", "c"}, {"a"}}
	p, err := state.NewProvider(root, 4, state.SnapshotInterval(2))
	if err != nil {
		log.Fatal(err)
	}
	pt, err := p.Partition("count-by-key", 0)
	if err != nil {
		log.Fatal(err)
	}
	for i, words := range batches {
		batchID := int64(i + 1)
		st, err := pt.Load(ctx, batchID-1)
		if err != nil {
			log.Fatal(err)
		}
		for _, w := range words {
			n := byte(0)
			if v, ok := st.Get([]byte(w)); ok {
				n = v[0]
			}
			if err := st.Put([]byte(w), []byte{n + 1}); err != nil {
				log.Fatal(err)
			}
		}
		if _, err := st.Commit(ctx); err != nil {
			log.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		log.Fatal(err)
	}

	// After a restart.
	p, err = state.NewProvider(root, 4)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx)
	pt, _ = p.Partition("count-by-key", 0)
	st, err := pt.Load(ctx, 3)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Abort()
	for _, w := range []string{"a", "b", "c"} {
		v, _ := st.Get([]byte(w))
		fmt.Printf("%s=%d ", w, v[0])
	}
	fmt.Println("keys:", st.Len())

	// The number of state partitions is fixed at the first run.
	_, err = state.NewProvider(root, 8)
	fmt.Println(err != nil)
	// Output:
	// a=3 b=2 c=1 keys: 3
	// true
}
