package rdd_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/rdd"
)

func ExampleMap() {
	ec, err := engine.New()
	if err != nil {
		panic(err)
	}
	defer ec.Close()

	squares := rdd.Map(rdd.Range(ec, 1, 6, 1, 2), func(x int) string { return fmt.Sprint(x, "²=", x*x) })
	out, err := squares.Collect(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println(out)
	// Output: [1²=1 2²=4 3²=9 4²=16 5²=25]
}

// A word count: split lines into words, count each word with ReduceByKey
// and sort the counts by word.
func ExampleMap_wordCount() {
	ec, err := engine.New()
	if err != nil {
		panic(err)
	}
	defer ec.Close()

	lines := rdd.Parallelize(ec, []string{
		"to be or not to be",
		"that is the question",
		"to sleep perchance to dream",
	}, 2)
	words := rdd.FlatMap(lines, strings.Fields)
	ones := rdd.Map(words, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
	counts := rdd.ReduceByKey(ones, func(a, b int) int { return a + b })
	sorted, err := rdd.SortByKey(counts, true).Collect(context.Background())
	if err != nil {
		panic(err)
	}
	for _, p := range sorted {
		fmt.Println(p.Key, p.Value)
	}
	// Output:
	// be 2
	// dream 1
	// is 1
	// not 1
	// or 1
	// perchance 1
	// question 1
	// sleep 1
	// that 1
	// the 1
	// to 4
}

func ExampleRDD_Filter() {
	ec, err := engine.New()
	if err != nil {
		panic(err)
	}
	defer ec.Close()

	odd := rdd.Range(ec, 0, 10, 1, 3).Filter(func(x int) bool { return x%2 == 1 })
	out, err := odd.Collect(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println(out)
	// Output: [1 3 5 7 9]
}

// Parallelize splits its input into contiguous slices of about equal size;
// Glom shows one slice per partition.
func ExampleParallelize() {
	ec, err := engine.New()
	if err != nil {
		panic(err)
	}
	defer ec.Close()

	r := rdd.Parallelize(ec, []string{"a", "b", "c", "d", "e", "f", "g"}, 3)
	parts, err := rdd.Glom(r).Collect(context.Background())
	if err != nil {
		panic(err)
	}
	for i, p := range parts {
		fmt.Println(i, p)
	}
	// Output:
	// 0 [a b]
	// 1 [c d]
	// 2 [e f g]
}

// Take computes only the partitions it needs: here the first of a
// thousand.
func ExampleRDD_Take() {
	ec, err := engine.New()
	if err != nil {
		panic(err)
	}
	defer ec.Close()

	huge := rdd.Range(ec, 0, 1_000_000_000, 1, 1000)
	first, err := huge.Take(context.Background(), 5)
	if err != nil {
		panic(err)
	}
	fmt.Println(first)
	// Output: [0 1 2 3 4]
}
