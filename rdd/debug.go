package rdd

import (
	"fmt"
	"strings"

	"github.com/spate-io/spate/engine"
)

// ToDebugString describes r's lineage, one RDD per line, in the layout
// Spark users know: "(n)" gives the partition count at the start of each
// stage, "+-" marks a shuffle boundary (a new stage), and "|" continues
// the same stage. Persisted RDDs are marked with how many of their
// partitions are cached.
//
//	(2) ReduceByKey[4] at wordcount.go:20 []
//	 +-(2) Map[3] at wordcount.go:19 []
//	    |  FlatMap[2] at wordcount.go:18 []
//	    |  TextFile[1] at wordcount.go:17 []
//
// The brackets hold the storage state, empty for RDDs that are not
// persisted.
func (r *RDD[T]) ToDebugString() string {
	if r == nil {
		return "(0) <nil RDD>"
	}
	if r.err != nil {
		return fmt.Sprintf("(0) %s [error: %v]", r.op, r.err)
	}
	var b strings.Builder
	describe(&b, r.node, "", " ", true)
	return strings.TrimSuffix(b.String(), "\n")
}

// describe writes n's line after lead and its parents' lines with cont as
// the indentation of this stage. stageHead says whether n starts a stage
// (and so shows its partition count).
func describe(b *strings.Builder, n engine.Node, lead, cont string, stageHead bool) {
	if stageHead {
		fmt.Fprintf(b, "%s(%d) %s\n", lead, n.NumPartitions(), label(n))
	} else {
		fmt.Fprintf(b, "%s|  %s\n", lead, label(n))
	}
	for _, d := range n.Dependencies() {
		switch d := d.(type) {
		case *engine.ShuffleDependency:
			describe(b, d.Parent, cont+"+-", cont+"   ", true)
		case *engine.NarrowDependency:
			describe(b, d.Parent, cont, cont, false)
		}
	}
}

func label(n engine.Node) string {
	nd, ok := n.(*node)
	if !ok {
		return n.Name()
	}
	storage := ""
	if nd.Persisted() {
		storage = fmt.Sprintf("persisted, %d/%d partitions cached", nd.ec.Cache().CachedPartitions(nd.id), nd.parts)
	}
	return fmt.Sprintf("%s[%d] at %s [%s]", nd.op, nd.id, nd.callSite, storage)
}
