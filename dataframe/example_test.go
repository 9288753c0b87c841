package dataframe_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/dstream/dstreamtest"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/rdd"
)

type sale struct {
	Region string  `spate:"region"`
	Item   string  `spate:"item"`
	Units  int64   `spate:"units"`
	Price  float64 `spate:"price"`
}

var sales = []sale{
	{"north", "apple", 3, 0.5}, {"south", "pear", 2, 0.75}, {"north", "pear", 1, 0.75},
	{"east", "apple", 10, 0.45}, {"south", "apple", 4, 0.5},
}

func newExampleSession() (*dataframe.Session, func()) {
	ec, err := engine.New(engine.Slots(2))
	if err != nil {
		panic(err)
	}
	s, err := dataframe.NewSession(ec)
	if err != nil {
		panic(err)
	}
	return s, func() { ec.Close() }
}

// Revenue per region: a filter, a computed column, a two-phase
// aggregation and a sort, printed as Spark's show() does.
func Example() {
	s, done := newExampleSession()
	defer done()
	ctx := context.Background()

	df := dataframe.CreateDataFrame(s, sales)
	revenue := df.Where(dataframe.Col("units").Gt(1)).
		WithColumn("revenue", dataframe.Col("units").Multiply(dataframe.Col("price"))).
		GroupBy(dataframe.Col("region")).
		Agg(dataframe.Sum(dataframe.Col("revenue")).As("revenue"), dataframe.CountAll().As("sales")).
		OrderBy(dataframe.Col("revenue").Desc())
	if err := revenue.Show(ctx, 10); err != nil {
		panic(err)
	}
	// Output:
	// +------+-------+-----+
	// |region|revenue|sales|
	// +------+-------+-----+
	// |  east|    4.5|    1|
	// | south|    3.5|    2|
	// | north|    1.5|    1|
	// +------+-------+-----+
}

// Errors in building a query surface at the latest at the first action,
// naming the column and listing the available ones.
func ExampleDataFrame_Err() {
	s, done := newExampleSession()
	defer done()
	df := dataframe.CreateDataFrame(s, sales).Select(dataframe.Col("regoin"))
	fmt.Println(df.Err())
	_, err := df.Count(context.Background())
	fmt.Println(err == df.Err())
	// Output:
	// dataframe.Select: plan: invalid plan: Project: expr: column "regoin" not found; available columns: region, item, units, price (did you mean "region"?)
	// true
}

// CollectAs converts rows back into structs.
func ExampleCollectAs() {
	s, done := newExampleSession()
	defer done()
	type itemUnits struct {
		Item  string `spate:"item"`
		Units int64  `spate:"units"`
	}
	df := dataframe.CreateDataFrame(s, sales).GroupBy(dataframe.Col("item")).Sum("units").
		WithColumnRenamed("sum(units)", "units").OrderBy(dataframe.Col("item"))
	out, err := dataframe.CollectAs[itemUnits](context.Background(), df)
	if err != nil {
		panic(err)
	}
	fmt.Println(out)
	// Output:
	// [{apple 17} {pear 3}]
}

// Explain shows the plan before and after optimization and the physical
// plan with its exchanges.
func ExampleDataFrame_Explain() {
	s, done := newExampleSession()
	defer done()
	df := dataframe.CreateDataFrame(s, sales)
	q := df.Select(dataframe.Col("region"), dataframe.Col("units").Multiply(2).As("double")).
		Where(dataframe.Col("double").Gt(dataframe.Lit(2).Plus(2))).
		GroupBy(dataframe.Col("region")).Count()
	plan, err := q.Explain()
	if err != nil {
		panic(err)
	}
	fmt.Print(plan)
	// Output:
	// == Analyzed Logical Plan ==
	// Aggregate [region], [count(1) AS count]
	// +- Filter (double > (2 + 2))
	//    +- Project [region, (units * 2) AS double]
	//       +- LocalRelation [region, item, units, price], 2 partitions
	//
	// == Optimized Logical Plan ==
	// Aggregate [region], [count(1) AS count]
	// +- Project [region]
	//    +- Filter ((units * 2) > 4)
	//       +- LocalRelation [region, item, units, price], 2 partitions
	//
	// == Physical Plan ==
	// HashAggregate(keys=[region], functions=[count(1) AS count], mode=final)
	// +- Exchange hashpartitioning(region, 2)
	//    +- HashAggregate(keys=[region], functions=[count(1) AS count], mode=partial)
	//       +- Project [region]
	//          +- Filter ((units * 2) > 4)
	//             +- LocalTableScan [region, item, units, price], 2 partitions
}

// Joins take a condition: its equalities between the two sides are the
// hash keys.
func ExampleDataFrame_Join() {
	s, done := newExampleSession()
	defer done()
	type region struct {
		Name    string `spate:"name"`
		Manager string `spate:"manager"`
	}
	regions := dataframe.CreateDataFrame(s, []region{{"north", "Ana"}, {"south", "Bo"}, {"west", "Cy"}})
	df := dataframe.CreateDataFrame(s, sales)
	q := df.Join(regions, dataframe.Col("region").EqualTo(dataframe.Col("name")), "left").
		Select(dataframe.Col("region"), dataframe.Col("item"), dataframe.Col("manager")).
		OrderBy(dataframe.Col("region"), dataframe.Col("item"))
	if err := q.Show(context.Background(), 10); err != nil {
		panic(err)
	}
	// Output:
	// +------+-----+-------+
	// |region| item|manager|
	// +------+-----+-------+
	// |  east|apple|   null|
	// | north|apple|    Ana|
	// | north| pear|    Ana|
	// | south|apple|     Bo|
	// | south| pear|     Bo|
	// +------+-----+-------+
}

// Set operations compare whole rows, matching columns by position: the
// items sold in the north and also in the south (Intersect), and those
// sold in the north but not in the east (Except). ExceptAll and
// IntersectAll keep duplicates.
func ExampleDataFrame_Intersect() {
	s, done := newExampleSession()
	defer done()
	ctx := context.Background()
	df := dataframe.CreateDataFrame(s, sales)
	itemsIn := func(region string) *dataframe.DataFrame {
		return df.Where(dataframe.Col("region").EqualTo(region)).Select(dataframe.Col("item"))
	}
	both, err := itemsIn("north").Intersect(itemsIn("south")).OrderBy(dataframe.Col("item")).Collect(ctx)
	if err != nil {
		panic(err)
	}
	notEast, err := itemsIn("north").Except(itemsIn("east")).Collect(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(both)
	fmt.Println(notEast)
	// Output:
	// [[apple] [pear]]
	// [[pear]]
}

// Writing Parquet and reading it back; the filter is pushed into the scan.
func ExampleSession_Read() {
	s, done := newExampleSession()
	defer done()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "spate-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sales")
	if err := dataframe.CreateDataFrame(s, sales).Write().Format("parquet").Mode("overwrite").Save(ctx, path); err != nil {
		panic(err)
	}
	back := s.Read().Format("parquet").Load(path).Where(dataframe.Col("units").Geq(4))
	n, err := back.Count(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(n, "sales of 4 units or more")
	_ = back.Select(dataframe.Col("region"), dataframe.Col("units")).OrderBy(dataframe.Col("units")).Show(ctx, 5)
	// Output:
	// 2 sales of 4 units or more
	// +------+-----+
	// |region|units|
	// +------+-----+
	// | south|    4|
	// |  east|   10|
	// +------+-----+
}

// Each batch of a stream registered as a table: inside ForeachRDD, the
// batch's RDD becomes a DataFrame and a temporary view, and a query runs
// over it.
func Example_streamBatchAsTable() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type word struct {
		Word string `spate:"word"`
	}
	var (
		mu     sync.Mutex
		tables = map[time.Time]string{}
	)
	input := [][]word{
		{{"to"}, {"be"}, {"or"}, {"not"}, {"to"}, {"be"}},
		{{"spate"}, {"to"}},
	}
	_, err := dstreamtest.Run(ctx, input, func(words *dstream.DStream[word]) *dstream.DStream[word] {
		err := words.ForeachRDD(func(ctx context.Context, r *rdd.RDD[word], t time.Time) error {
			s, err := dataframe.NewSession(r.Context())
			if err != nil {
				return err
			}
			if err := dataframe.CreateDataFrameFromRDD(s, r).CreateOrReplaceTempView("words"); err != nil {
				return err
			}
			counts := s.Table("words").GroupBy(dataframe.Col("word")).Count().
				OrderBy(dataframe.Col("count").Desc(), dataframe.Col("word"))
			var sb strings.Builder
			if err := counts.ShowTo(ctx, &sb, 3, true); err != nil {
				return err
			}
			mu.Lock()
			tables[t] = sb.String()
			mu.Unlock()
			return nil
		})
		if err != nil {
			panic(err)
		}
		return words
	}, len(input))
	if err != nil {
		panic(err)
	}
	times := make([]time.Time, 0, len(tables))
	for t := range tables {
		times = append(times, t)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for i, t := range times {
		fmt.Printf("batch %d\n%s", i+1, tables[t])
	}
	// Output:
	// batch 1
	// +----+-----+
	// |word|count|
	// +----+-----+
	// |  be|    2|
	// |  to|    2|
	// | not|    1|
	// +----+-----+
	// only showing top 3 rows
	// batch 2
	// +-----+-----+
	// | word|count|
	// +-----+-----+
	// |spate|    1|
	// |   to|    1|
	// +-----+-----+
}

// Sessions of page views per user: views less than 30 minutes apart are
// one visit, from its first view to 30 minutes after its last.
func ExampleSessionWindow() {
	s, done := newExampleSession()
	defer done()
	type view struct {
		User string    `spate:"user"`
		TS   time.Time `spate:"ts"`
	}
	at := func(hhmm string) time.Time {
		t, _ := time.Parse("15:04", hhmm)
		return t.AddDate(2026, 10, 23)
	}
	views := dataframe.CreateDataFrame(s, []view{
		{"ann", at("09:00")}, {"ann", at("09:20")}, {"ann", at("09:45")}, {"ann", at("11:00")}, {"bob", at("09:10")},
	})
	visits := views.GroupBy(dataframe.Col("user"), dataframe.SessionWindow(dataframe.Col("ts"), 30*time.Minute)).
		Count().
		OrderBy(dataframe.Col("user"), dataframe.Col("window_start"))
	if err := visits.Show(context.Background(), 10); err != nil {
		panic(err)
	}
	// Output:
	// +----+-------------------+-------------------+-----+
	// |user|       window_start|         window_end|count|
	// +----+-------------------+-------------------+-----+
	// | ann|2026-11-24 09:00:00|2026-11-24 10:15:00|    3|
	// | ann|2026-11-24 11:00:00|2026-11-24 11:30:00|    1|
	// | bob|2026-11-24 09:10:00|2026-11-24 09:40:00|    1|
	// +----+-------------------+-------------------+-----+
}
