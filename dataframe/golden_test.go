package dataframe_test

import (
	"bufio"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/clock"
	. "github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/engine"
)

// stageNumbers matches engine stage IDs in error messages, which depend
// on what ran before.
var stageNumbers = regexp.MustCompile(`stage \d+`)

// nondeterministic matches the parts of error messages that vary between
// runs: which partition failed first, and write job IDs in file names.
var nondeterministic = regexp.MustCompile(`partition \d+|part-\d+-[0-9a-f]+`)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files in testdata/ with the current output")

// golden runs the cases of a golden file: blocks of a command line, a
// "----" line, the expected output and a "====" line. run returns the
// output of a command.
func golden(t *testing.T, file string, run func(t *testing.T, cmd string) string) {
	t.Helper()
	path := filepath.Join("testdata", file)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	type block struct{ cmd, want string }
	var blocks []block
	sc := bufio.NewScanner(f)
	var cur *block
	inOut := false
	var out strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil:
			if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
				continue
			}
			cur = &block{cmd: line}
		case !inOut:
			if line != "----" {
				t.Fatalf("%s: command %q: want ---- after the command, got %q", path, cur.cmd, line)
			}
			inOut = true
			out.Reset()
		case line == "====":
			cur.want = out.String()
			blocks = append(blocks, *cur)
			cur, inOut = nil, false
		default:
			out.WriteString(line + "\n")
		}
	}
	f.Close()
	if cur != nil {
		t.Fatalf("%s: command %q is not closed by ====", path, cur.cmd)
	}
	var rewritten strings.Builder
	for _, b := range blocks {
		got := stageNumbers.ReplaceAllString(run(t, b.cmd), "stage N")
		got = nondeterministic.ReplaceAllStringFunc(got, func(m string) string {
			if strings.HasPrefix(m, "part-") {
				return "part-N-ID"
			}
			return "partition N"
		})
		if !strings.HasSuffix(got, "\n") {
			got += "\n"
		}
		if *rewrite {
			rewritten.WriteString(b.cmd + "\n----\n" + got + "====\n\n")
			continue
		}
		if got != b.want {
			t.Errorf("%s: %s:\ngot:\n%s\nwant:\n%s", path, b.cmd, got, b.want)
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(rewritten.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type person struct {
	Name  string   `spate:"name"`
	Age   *int64   `spate:"age"`
	City  string   `spate:"city"`
	Score float64  `spate:"score"`
	Tags  []string `spate:"tags"`
}

type order struct {
	ID     int64     `spate:"id"`
	Name   string    `spate:"customer"`
	Amount float64   `spate:"amount"`
	At     time.Time `spate:"at"`
}

func i64(v int64) *int64 { return &v }

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

var people = []person{
	{"alice", i64(34), "Paris", 81.5, []string{"a", "b"}},
	{"bob", i64(28), "Berlin", 64, nil},
	{"carol", nil, "Paris", 90.25, []string{"c"}},
	{"dave", i64(45), "Rome", 55.5, []string{}},
	{"erin", i64(28), "Berlin", 70, []string{"a"}},
	{"frank", i64(51), "Paris", 0, nil},
}

var orders = []order{
	{1, "alice", 20, t0},
	{2, "alice", 35.5, t0.Add(90 * time.Minute)},
	{3, "bob", 12, t0.Add(26 * time.Hour)},
	{4, "zoe", 99, t0.Add(49 * time.Hour)},
	{5, "carol", 7.25, t0.Add(-3 * time.Hour)},
}

// newSession returns a session with a checked allocator that must be
// empty when the test ends.
func newSession(t *testing.T, opts ...Option) *Session {
	return newSessionSlots(t, 2, opts...)
}

func newSessionSlots(t *testing.T, slots int, opts ...Option) *Session {
	t.Helper()
	ec, err := engine.New(engine.Slots(slots), engine.WithClock(clock.NewManual(t0)))
	if err != nil {
		t.Fatal(err)
	}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() {
		ec.Close()
		alloc.AssertSize(t, 0)
	})
	s, err := NewSession(ec, append([]Option{WithAllocator(alloc), ShufflePartitions(3), DefaultParallelism(2)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func queries(s *Session) map[string]*DataFrame {
	p := CreateDataFrame(s, people)
	o := CreateDataFrame(s, orders)
	return map[string]*DataFrame{
		"people": p,
		"orders": o,
		"filter_project": p.Where(Col("age").Gt(30).And(Col("city").EqualTo("Paris"))).
			Select(Col("name"), Col("age").Plus(1).As("next_age"), Upper(Col("city")).As("city")),
		"with_column": p.WithColumn("score", Col("score").Multiply(2)).WithColumn("adult", Col("age").Geq(30)).
			WithColumnRenamed("name", "who").Drop("tags", "city"),
		"group_by": p.GroupBy(Col("city")).Agg(Count(Col("age")).As("n"), Avg(Col("score")).As("avg_score"),
			Max(Col("age")).As("oldest"), Min(Col("name")).As("first_name"), Sum(Col("age")).As("total_age")).
			OrderBy(Col("city")),
		"group_count": p.GroupBy(Col("age")).Count().OrderBy(Col("count").Desc(), Col("age")),
		"global_agg": p.Agg(CountAll().As("rows"), CountDistinct(Col("city")).As("cities"), Sum(Col("score")).As("total"),
			First(Col("name")).As("first"), Last(Col("name")).As("last")),
		"collect_list": p.GroupBy(Col("city")).Agg(CollectList(Col("name")).As("names")).OrderBy(Col("city")),
		"order_desc":   p.OrderBy(Col("age").Desc(), Col("name")).Select(Col("name"), Col("age")),
		"order_asc":    p.OrderBy(Col("age")).Select(Col("name"), Col("age")),
		"limit":        p.OrderBy(Col("score").Desc()).Limit(2).Select(Col("name"), Col("score")),
		"inner_join": o.Join(p, Col("customer").EqualTo(Col("name")), "inner").
			Select(Col("id"), Col("customer"), Col("city"), Col("amount")).OrderBy(Col("id")),
		"left_join": o.Join(p.Select(Col("name"), Col("city")), Col("customer").EqualTo(Col("name")), "left").
			OrderBy(Col("id")).Select(Col("id"), Col("name"), Col("city")),
		"right_join": o.Join(p.Select(Col("name"), Col("city")), Col("customer").EqualTo(Col("name")), "right").
			OrderBy(Col("name"), Col("id")).Select(Col("id"), Col("name"), Col("city")),
		"full_join": o.Join(p.Select(Col("name"), Col("city")), Col("customer").EqualTo(Col("name")), "full").
			OrderBy(Col("id"), Col("name")).Select(Col("id"), Col("customer"), Col("name")),
		"semi_join": p.Join(o, Col("name").EqualTo(Col("customer")), "left_semi").Select(Col("name")).OrderBy(Col("name")),
		"anti_join": p.Join(o, Col("name").EqualTo(Col("customer")), "left_anti").Select(Col("name")).OrderBy(Col("name")),
		"residual_join": o.Join(p, Col("customer").EqualTo(Col("name")).And(Col("amount").Gt(15)), "inner").
			Select(Col("id"), Col("name")).OrderBy(Col("id")),
		"join_using": o.WithColumnRenamed("customer", "name").JoinUsing(p.Select(Col("name"), Col("city")), []string{"name"}, "full").
			OrderBy(Col("name"), Col("id")),
		"union_distinct":  p.Select(Col("city")).Union(o.Select(Col("customer"))).Distinct().OrderBy(Col("city")),
		"drop_duplicates": p.DropDuplicates("city").Select(Col("city")).OrderBy(Col("city")),
		"case_when": p.Select(Col("name"), When(Col("age").Lt(30), "young").When(Col("age").Lt(50), "middle").
			Otherwise("senior").As("band"), Coalesce(Col("age"), Lit(int64(-1))).As("age_or")),
		"strings": p.Select(Col("name"), Length(Col("name")).As("len"), Substring(Col("name"), 2, 3).As("sub"),
			Concat(Col("name"), Lit("@"), Lower(Col("city"))).As("email"), RegexpReplace(Col("city"), "[aeiou]", "_").As("rr"),
			RegexpExtract(Col("name"), "^(.)(.)", 2).As("second"), Col("name").Like("%a%").As("has_a"),
			Split(Lit("a,b,,c"), ",").As("parts"), Trim(Lit("  x ")).As("t"), Col("city").IsIn("Paris", "Rome").As("in")),
		"time": o.Select(Col("id"), Col("at"), Year(Col("at")).As("y"), Month(Col("at")).As("m"), DayOfMonth(Col("at")).As("d"),
			Hour(Col("at")).As("h"), Minute(Col("at")).As("mi"), DateTrunc("day", Col("at")).As("day"),
			UnixTimestamp(Col("at")).As("unix"), FromUnixtime(UnixTimestamp(Col("at")), "yyyy/MM/dd HH:mm").As("fmt"),
			CurrentTimestamp().As("now")).OrderBy(Col("id")),
		"epoch": o.Select(Col("id"), Col("at"), UnixSeconds(Col("at")).As("s"), UnixMillis(Col("at")).As("ms"),
			UnixMicros(Col("at")).As("us"), UnixMillis(TimestampSeconds(Col("id").Multiply(-1.25))).As("secs_ms"),
			UnixMicros(TimestampMillis(Col("id").Multiply(1500))).As("millis_us"), TimestampMicros(UnixMicros(Col("at"))).As("from_us")).OrderBy(Col("id")),
		"to_timestamp": o.Limit(1).Select(ToTimestamp(Lit("2026-01-02 03:04:05")).As("iso"),
			ToTimestamp(Lit("02/01/2026 03:04"), "dd/MM/yyyy HH:mm").As("pattern"), ToTimestamp(Lit("nope")).As("bad")),
		"math": o.Select(Col("id"), Col("amount").Divide(Col("id").Minus(3)).As("div"), Col("id").Mod(0).As("mod0"),
			Abs(Col("amount").Multiply(-1)).As("abs"), Round(Col("amount").Divide(3), 2).As("round"), Floor(Col("amount")).As("floor"),
			Ceil(Col("amount")).As("ceil"), Sqrt(Col("amount")).As("sqrt"), Pow(Col("id"), 2).As("pow")).OrderBy(Col("id")),
		"overflow": o.Limit(1).Select(Lit(int64(9223372036854775807)).Plus(Col("id")).As("wraps"),
			Lit(int64(-9223372036854775808)).Multiply(-1).As("neg"), Abs(Lit(int64(-9223372036854775808))).As("abs")),
		"bad_cast":       o.Select(Col("id").Cast(nil)),
		"unknown_column": o.Select(Col("idd")),
		"type_error":     o.Select(Col("customer").Plus(1)),
		"agg_in_select":  o.Select(Sum(Col("id"))),
		"string_to_int":  o.Select(Col("customer").Cast(arrow.PrimitiveTypes.Int64).As("n"), Lit("42").Cast(arrow.PrimitiveTypes.Int64).As("m")).Limit(2),
		"nulls_logic": p.Select(Col("name"), Col("age").Gt(30).As("gt"), Col("age").Gt(30).Or(Lit(true)).As("or_true"),
			Col("age").Gt(30).And(Lit(false)).As("and_false"), Col("age").IsNull().As("isnull"), Not(Col("age").Gt(30)).As("not")),
		"self_join": p.Alias("a").Join(p.Alias("b"), Col("a.city").EqualTo(Col("b.city")).And(Col("a.name").Lt(Col("b.name"))), "inner").
			Where(Col("b.age").Gt(30)).Select(Col("a.name"), Col("b.name").As("other"), Col("a.city")).OrderBy(Col("name"), Col("other")),
		"between": p.Where(Col("score").Between(60, 85)).Select(Col("name"), Col("score")).OrderBy(Col("name")),
	}
}

func TestGoldenShow(t *testing.T) {
	s := newSession(t)
	qs := queries(s)
	ctx := context.Background()
	golden(t, "show.txt", func(t *testing.T, cmd string) string {
		df, ok := qs[strings.TrimPrefix(cmd, "show ")]
		if !ok {
			t.Fatalf("unknown query in %q", cmd)
		}
		var sb strings.Builder
		if err := df.ShowTo(ctx, &sb, 20, true); err != nil {
			return "error: " + err.Error()
		}
		return sb.String()
	})
}

func TestGoldenExplain(t *testing.T) {
	s := newSession(t)
	qs := queries(s)
	golden(t, "explain.txt", func(t *testing.T, cmd string) string {
		df, ok := qs[strings.TrimPrefix(cmd, "explain ")]
		if !ok {
			t.Fatalf("unknown query in %q", cmd)
		}
		out, err := df.Explain()
		if err != nil {
			return "error: " + err.Error()
		}
		return out
	})
}

// TestResultsIndependentOfParallelism runs the show cases with one worker
// slot and one shuffle partition, and with tiny batches, many shuffle
// partitions and no broadcast joins: the results must not change.
func TestResultsIndependentOfParallelism(t *testing.T) {
	for _, v := range []struct {
		name  string
		slots int
		opts  []Option
	}{
		{"one slot", 1, []Option{ShufflePartitions(1), DefaultParallelism(1)}},
		{"tiny batches", 2, []Option{ShufflePartitions(5), BatchRows(1), BroadcastRowThreshold(0), DefaultParallelism(3)}},
	} {
		t.Run(v.name, func(t *testing.T) {
			s := newSessionSlots(t, v.slots, v.opts...)
			qs := queries(s)
			ctx := context.Background()
			saved := *rewrite
			*rewrite = false
			defer func() { *rewrite = saved }()
			golden(t, "show.txt", func(t *testing.T, cmd string) string {
				var sb strings.Builder
				if err := qs[strings.TrimPrefix(cmd, "show ")].ShowTo(ctx, &sb, 20, true); err != nil {
					return "error: " + err.Error()
				}
				return sb.String()
			})
		})
	}
}
