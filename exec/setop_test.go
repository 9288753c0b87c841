package exec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/plan"
)

// setOpRelation makes a relation of schema s from rows (nil: null),
// dealt round-robin over parts partitions.
func setOpRelation(t *testing.T, s *arrow.Schema, rows [][]any, parts int) *plan.LocalRelation {
	t.Helper()
	out := make([][]arrow.RecordBatch, parts)
	for p := range parts {
		b := array.NewRecordBuilder(memory.DefaultAllocator, s)
		for i := p; i < len(rows); i += parts {
			for j, v := range rows[i] {
				switch v := v.(type) {
				case nil:
					b.Field(j).AppendNull()
				case int64:
					b.Field(j).(*array.Int64Builder).Append(v)
				case string:
					b.Field(j).(*array.StringBuilder).Append(v)
				default:
					t.Fatalf("unexpected value %T", v)
				}
			}
		}
		out[p] = []arrow.RecordBatch{b.NewRecordBatch()}
		b.Release()
	}
	l, err := plan.NewLocalRelation(s, out)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// wantSetOp computes a set operation by its definition, as sorted lines
// in the format of run.
func wantSetOp(left, right [][]any, kind plan.SetOpKind, all bool) string {
	line := func(r []any) string {
		parts := make([]string, len(r))
		for i, v := range r {
			if v == nil {
				parts[i] = "(null)"
			} else {
				parts[i] = fmt.Sprint(v)
			}
		}
		return strings.Join(parts, ",")
	}
	nl, nr := map[string]int{}, map[string]int{}
	for _, r := range left {
		nl[line(r)]++
	}
	for _, r := range right {
		nr[line(r)]++
	}
	var out []string
	for k, a := range nl {
		b := nr[k]
		copies := 0
		switch {
		case kind == plan.SetIntersect && all:
			copies = min(a, b)
		case kind == plan.SetIntersect && b > 0:
			copies = 1
		case kind == plan.SetExcept && all:
			copies = max(0, a-b)
		case kind == plan.SetExcept && b == 0:
			copies = 1
		}
		for range copies {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// Every set operation on random rows with duplicates and nulls, over key
// maps of each kind (one int64 column, one string column, int64 tuples,
// encoded rows), matches its definition; nothing leaks.
func TestSetOps(t *testing.T) {
	i64 := arrow.Field{Type: arrow.PrimitiveTypes.Int64, Nullable: true}
	str := arrow.Field{Type: arrow.BinaryTypes.String, Nullable: true}
	named := func(fs ...arrow.Field) *arrow.Schema {
		for i := range fs {
			fs[i].Name = fmt.Sprintf("c%d", i)
		}
		return arrow.NewSchema(fs, nil)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	value := func(f arrow.Field) any {
		v := rng.IntN(4)
		switch {
		case v == 3:
			return nil
		case f.Type.ID() == arrow.STRING:
			return fmt.Sprintf("s%d", v)
		}
		return int64(v)
	}
	rows := func(s *arrow.Schema, n int) [][]any {
		out := make([][]any, n)
		for i := range out {
			out[i] = make([]any, s.NumFields())
			for j, f := range s.Fields() {
				out[i][j] = value(f)
			}
		}
		return out
	}
	for _, s := range []*arrow.Schema{named(i64), named(str), named(i64, i64), named(i64, i64, i64), named(i64, str)} {
		for _, sizes := range [][2]int{{60, 40}, {30, 0}, {0, 30}} {
			left, right := rows(s, sizes[0]), rows(s, sizes[1])
			for _, kind := range []plan.SetOpKind{plan.SetIntersect, plan.SetExcept} {
				for _, all := range []bool{false, true} {
					for _, parts := range []int{1, 3} {
						op := must(plan.NewSetOp(setOpRelation(t, s, left, 2), setOpRelation(t, s, right, 3), kind, all))
						name := fmt.Sprintf("%s/%dx%d/%s/%d", s.Fields(), sizes[0], sizes[1], op, parts)
						t.Run(name, func(t *testing.T) {
							got := sortedLines(run(t, op, Config{ShufflePartitions: parts, BatchRows: 7}))
							if want := wantSetOp(left, right, kind, all); got != want {
								t.Errorf("got\n%s\nwant\n%s", got, want)
							}
						})
					}
				}
			}
		}
	}
}

// The planner makes a HashSetOp whose explain line names the operation
// and the columns.
func TestSetOpExplain(t *testing.T) {
	rel := relation(t, 10, 2, 4)
	op := must(plan.NewSetOp(rel, rel, plan.SetExcept, true))
	ec, err := engine.New(engine.Slots(2))
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	c, err := NewContext(ec, memory.NewGoAllocator(), time.Unix(0, 0), Config{ShufflePartitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	phys, err := Plan(c, op)
	if err != nil {
		t.Fatal(err)
	}
	got := Explain(phys)
	if !strings.HasPrefix(got, "HashSetOp Except All, [k, v, s], hashpartitioning(4)\n:- LocalTableScan [k, v, s]") {
		t.Errorf("explain:\n%s", got)
	}
}
