package sql_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/sql"
)

// events returns an empty in-memory table of device signals.
func events() plan.Node {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "device", Type: arrow.BinaryTypes.String},
		{Name: "signal", Type: arrow.PrimitiveTypes.Float64},
		{Name: "ts", Type: expr.TimestampType},
	}, nil)
	n, err := plan.NewLocalRelation(s, nil)
	if err != nil {
		panic(err)
	}
	return n
}

func ExamplePlan() {
	cat := sql.MapCatalog{"events": events()}
	n, err := sql.Plan(context.Background(), `
		SELECT device, avg(signal) AS avg_signal
		FROM events
		WHERE signal > 10
		GROUP BY device
		HAVING count(*) > 2
		ORDER BY avg_signal DESC
		LIMIT 3`, cat)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(plan.Explain(n))
	// Output:
	// Project [device, avg(signal) AS avg_signal]
	// +- Limit 3
	//    +- Sort [avg(signal) DESC NULLS LAST]
	//       +- Filter (count(1) > 2)
	//          +- Aggregate [device], [avg(signal), count(1)]
	//             +- Filter (signal > 10)
	//                +- LocalRelation [device, signal, ts], 1 partitions
}

func ExamplePlan_error() {
	cat := sql.MapCatalog{"events": events()}
	_, err := sql.Plan(context.Background(), "SELECT device, sigal\nFROM events", cat)
	fmt.Println(err)
	var se *sql.Error
	if errors.As(err, &se) {
		fmt.Println("line", se.Line, "column", se.Column)
	}
	// Output:
	// sql: unknown column `sigal`; did you mean `signal`? (available: `device`, `signal`, `ts`) (line 1, column 16)
	//   SELECT device, sigal
	//                  ^^^^^
	// line 1 column 16
}

func ExampleParseExpr() {
	e, err := sql.ParseExpr("CASE WHEN signal > 100 THEN 'high' ELSE lower(device) END AS level", events().Schema())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e)
	// Output:
	// CASE WHEN (signal > 100) THEN 'high' ELSE lower(device) END AS level
}

func ExampleWithFunction() {
	celsius := func(args []expr.Expr) (expr.Expr, error) {
		if len(args) != 1 {
			return nil, errors.New("takes one argument")
		}
		return expr.Div(expr.Mul(expr.Sub(args[0], expr.Lit(32)), expr.Lit(5)), expr.Lit(9)), nil
	}
	cat := sql.MapCatalog{"events": events()}
	n, err := sql.Plan(context.Background(), "SELECT celsius(signal) AS c FROM events", cat, sql.WithFunction("celsius", celsius))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(plan.Explain(n))
	// Output:
	// Project [(((signal - 32) * 5) / 9) AS c]
	// +- LocalRelation [device, signal, ts], 1 partitions
}
