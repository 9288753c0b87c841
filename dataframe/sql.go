package dataframe

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/sql"
)

// sessionCatalog lets package sql read the session's temporary views.
type sessionCatalog struct{ s *Session }

var _ sql.Catalog = sessionCatalog{}

func (c sessionCatalog) Table(name string) (plan.Node, bool) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	p, ok := c.s.views[strings.ToLower(name)]
	return p, ok
}

func (c sessionCatalog) TableNames() []string {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	names := make([]string, 0, len(c.s.views))
	for n := range c.s.views {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SQL returns the DataFrame of a SQL query over the session's temporary
// views (syntax and supported constructs: package sql). A view of a
// streaming DataFrame makes the result streaming: run it with
// WriteStream. EXPLAIN <query> returns a one-row DataFrame whose column
// plan holds the query's plans (as DataFrame.Explain). A bad query gives a
// DataFrame carrying an *sql.Error with the line and column of the
// offending text.
func (s *Session) SQL(query string) *DataFrame {
	st, err := sql.PlanStatement(context.Background(), query, sessionCatalog{s})
	if err != nil {
		return s.failed(err)
	}
	df := &DataFrame{s: s, plan: st.Plan}
	if !st.Explain {
		return df
	}
	text, err := df.Explain()
	if err != nil {
		return s.failed(err)
	}
	return CreateDataFrame(s, []struct {
		Plan string `spate:"plan"`
	}{{text}})
}

// SelectExpr is Select with SQL expressions, such as "amount * 2 AS
// double"; "*" selects every column.
func (df *DataFrame) SelectExpr(exprs ...string) *DataFrame {
	return df.derive("SelectExpr", func(p plan.Node) (plan.Node, error) {
		var es []expr.Expr
		for _, text := range exprs {
			if strings.TrimSpace(text) == "*" {
				for _, f := range p.Schema().Fields() {
					es = append(es, expr.Col(f.Name))
				}
				continue
			}
			e, err := sql.ParseExpr(text, p.Schema())
			if err != nil {
				return nil, err
			}
			es = append(es, e)
		}
		if len(es) == 0 {
			return nil, errors.New("no expressions")
		}
		return plan.NewProject(p, es)
	})
}

// WhereExpr keeps the rows for which the SQL condition is true.
func (df *DataFrame) WhereExpr(cond string) *DataFrame {
	return df.derive("WhereExpr", func(p plan.Node) (plan.Node, error) {
		e, err := sql.ParseExpr(cond, p.Schema())
		if err != nil {
			return nil, err
		}
		return plan.NewFilter(p, e)
	})
}
