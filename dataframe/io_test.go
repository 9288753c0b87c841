package dataframe_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/connector/file"
	. "github.com/spate-io/spate/dataframe"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fileQueries builds DataFrames over small files in dir.
func fileQueries(t *testing.T, s *Session, dir string) map[string]*DataFrame {
	ctx := context.Background()
	p := CreateDataFrame(s, people)
	pq := filepath.Join(dir, "people.parquet")
	if err := p.Drop("tags").Write().Format("parquet").Save(ctx, pq); err != nil {
		t.Fatal(err)
	}
	part := filepath.Join(dir, "by_city")
	if err := p.Drop("tags").Write().PartitionBy("city").Save(ctx, part); err != nil {
		t.Fatal(err)
	}
	csvPath := writeFile(t, dir, "sales.csv", "region,units,price\nnorth,3,2.5\nsouth,x,1.0\nnorth,5,2.0\neast,1\n")
	jsonPath := writeFile(t, dir, "events.json", `{"user":"a","n":1}
{"user":"b","n":2}
not json
{"user":"a","n":5}
`)
	textPath := writeFile(t, dir, "words.txt", "to be or\nnot to be\n")
	csvSchema := arrow.NewSchema([]arrow.Field{
		{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "units", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "_corrupt_record", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	jsonSchema := arrow.NewSchema([]arrow.Field{
		{Name: "user", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "_corrupt_record", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	csv := s.Read().Format("csv").Option("header", "true").Schema(csvSchema)
	return map[string]*DataFrame{
		"parquet_roundtrip": s.Read().Parquet(pq).OrderBy(Col("name")),
		"parquet_pushdown": s.Read().Parquet(pq).Where(Col("age").Gt(40)).Select(Col("name"), Col("age")).
			OrderBy(Col("name")),
		"partitioned":       s.Read().Parquet(part).GroupBy(Col("city")).Agg(CountAll().As("n")).OrderBy(Col("city")),
		"csv_permissive":    csv.Load(csvPath),
		"csv_dropmalformed": csv.Option("mode", "DROPMALFORMED").Load(csvPath).Drop("_corrupt_record"),
		"csv_failfast":      csv.Option("mode", "FAILFAST").Load(csvPath),
		"csv_aggregate": csv.Option("mode", "DROPMALFORMED").Load(csvPath).GroupBy(Col("region")).
			Agg(Sum(Col("units").Multiply(Col("price"))).As("revenue")).OrderBy(Col("region")),
		"json_inferred":   s.Read().Option("mode", "DROPMALFORMED").JSON(jsonPath).GroupBy(Col("user")).Sum("n").OrderBy(Col("user")),
		"text_words":      s.Read().Text(textPath).Select(Split(Col("value"), " ").As("words")),
		"json_permissive": s.Read().Schema(jsonSchema).JSON(jsonPath),
		"json_failfast":   s.Read().Option("mode", "FAILFAST").Schema(jsonSchema).JSON(jsonPath),
		"schema_mismatch": s.Read().Schema(arrow.NewSchema([]arrow.Field{{Name: "name", Type: arrow.FixedWidthTypes.Boolean, Nullable: true}}, nil)).Parquet(pq),
		"missing_column":  s.Read().Parquet(pq).Select(Col("nom")),
		"missing":         s.Read().Parquet(filepath.Join(dir, "nope")),
		"bad_format":      s.Read().Format("avro").Load(pq),
	}
}

func TestGoldenFiles(t *testing.T) {
	s := newSession(t)
	dir := t.TempDir()
	qs := fileQueries(t, s, dir)
	ctx := context.Background()
	golden(t, "files.txt", func(t *testing.T, cmd string) string {
		verb, name, _ := strings.Cut(cmd, " ")
		df, ok := qs[name]
		if !ok {
			t.Fatalf("unknown query in %q", cmd)
		}
		var out string
		var err error
		switch verb {
		case "show":
			var sb strings.Builder
			err = df.ShowTo(ctx, &sb, 20, true)
			out = sb.String()
		case "explain":
			out, err = df.Explain()
		case "schema":
			var sb strings.Builder
			err = df.PrintSchemaTo(&sb)
			out = sb.String()
		default:
			t.Fatalf("unknown verb in %q", cmd)
		}
		if err != nil {
			out = "error: " + err.Error()
		}
		return strings.ReplaceAll(out, dir, "$TMP")
	})
}

func TestSaveModes(t *testing.T) {
	s := newSession(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	df := CreateDataFrame(s, orders).Select(Col("id"), Col("customer"))
	if err := df.Write().Format("json").Save(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := df.Write().Format("json").Save(ctx, dir); !errors.Is(err, file.ErrPathExists) {
		t.Fatalf("error mode: got %v, want ErrPathExists", err)
	}
	if err := df.Write().Format("json").Mode("ignore").Save(ctx, dir); err != nil {
		t.Fatal(err)
	}
	count := func() int64 {
		n, err := s.Read().Format("json").Load(dir).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 5 {
		t.Fatalf("after ignore: %d rows, want 5", n)
	}
	if err := df.Write().Format("json").Mode("append").Save(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 10 {
		t.Fatalf("after append: %d rows, want 10", n)
	}
	if err := df.Limit(2).Write().Format("json").Mode("overwrite").Save(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("after overwrite: %d rows, want 2", n)
	}
	if err := df.Write().Mode("sometimes").Save(ctx, dir); err == nil || !strings.Contains(err.Error(), "overwrite") {
		t.Fatalf("bad mode: got %v", err)
	}
	if err := df.Write().Format("xml").Save(ctx, filepath.Join(t.TempDir(), "x")); !errors.Is(err, file.ErrUnsupportedFormat) || !strings.Contains(err.Error(), "csv, json, parquet, text") {
		t.Fatalf("bad format: got %v", err)
	}
	// A failing query leaves nothing behind.
	bad := filepath.Join(t.TempDir(), "bad")
	in := writeFile(t, t.TempDir(), "in.csv", "a\n1\nx\n")
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	failing := s.Read().Format("csv").Option("mode", "FAILFAST").Schema(schema).Load(in)
	if err := failing.Write().Format("json").Save(ctx, bad); !errors.Is(err, file.ErrMalformed) {
		t.Fatalf("failing save: got %v, want ErrMalformed", err)
	}
	if _, err := os.Stat(bad); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("failed save left %s behind: %v", bad, err)
	}
}

func TestParquetRoundTripTypes(t *testing.T) {
	s := newSession(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "o")
	df := CreateDataFrame(s, orders)
	if err := df.Write().Save(ctx, dir); err != nil {
		t.Fatal(err)
	}
	back, err := CollectAs[order](ctx, s.Read().Parquet(dir).OrderBy(Col("id")))
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(orders) {
		t.Fatalf("got %d rows", len(back))
	}
	for i := range back {
		if back[i] != orders[i] {
			t.Errorf("row %d: got %+v, want %+v", i, back[i], orders[i])
		}
	}
}

func TestLargeFilesSplitIntoPartitions(t *testing.T) {
	s := newSession(t, MaxPartitionBytes(64))
	ctx := context.Background()
	dir := t.TempDir()
	var sb strings.Builder
	sb.WriteString("n,word\n")
	var want int64
	for i := range 200 {
		fmt.Fprintf(&sb, "%d,w%d\n", i, i%7)
		want += int64(i)
	}
	path := writeFile(t, dir, "big.csv", sb.String())
	df := s.Read().Format("csv").Option("header", "true").Option("inferSchema", "true").Load(path)
	ex, err := df.Explain()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ex, "Scan csv big.csv") {
		t.Fatalf("explain:\n%s", ex)
	}
	parts := 0
	var mu sync.Mutex // ForeachBatch calls f concurrently for different partitions
	err = df.ForeachBatch(ctx, func(_ context.Context, part int, _ arrow.RecordBatch) error {
		mu.Lock()
		defer mu.Unlock()
		if part+1 > parts {
			parts = part + 1
		}
		return nil
	})
	if err != nil || parts < 10 {
		t.Fatalf("%d partitions, %v; want many", parts, err)
	}
	rows, err := df.Agg(Sum(Col("n")).As("s"), CountAll().As("c"), CountDistinct(Col("word")).As("w")).Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != want || rows[0][1] != int64(200) || rows[0][2] != int64(7) {
		t.Errorf("got %v, want sum %d over 200 rows and 7 words", rows[0], want)
	}
}
