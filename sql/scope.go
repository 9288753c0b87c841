package sql

import (
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// column is one column of a relation as SQL sees it.
type column struct {
	// quals are the lower-case table names or aliases the column can be
	// qualified with.
	quals []string
	// name is the visible name (the one * and output columns show).
	name string
	// internal is the column's name in the relation's plan schema. It
	// differs from name when a join had to make names unique.
	internal string
	// hidden columns are left out of * and of unqualified lookups (the
	// right copy of a USING column); qualified names still reach them.
	hidden bool
}

// relation is a plan plus the SQL view of its columns, one per schema
// field, in order.
type relation struct {
	node plan.Node
	cols []column
	// schema is the columns' types when there is no node (the schema
	// ParseExpr translates over); nil otherwise.
	schema *arrow.Schema
}

// types returns the schema r's columns have, or nil when it is not known
// (the combined columns of a join's two sides while planning its
// condition).
func (r *relation) types() *arrow.Schema {
	if r.node != nil {
		return r.node.Schema()
	}
	return r.schema
}

// scopeOf returns a relation view of a schema, qualified by qual.
func scopeOf(s *arrow.Schema, qual string) *relation {
	r := &relation{}
	for _, f := range s.Fields() {
		c := column{name: f.Name, internal: f.Name}
		if qual != "" {
			c.quals = []string{strings.ToLower(qual)}
		}
		r.cols = append(r.cols, c)
	}
	return r
}

func newRelation(n plan.Node, qual string) *relation {
	r := scopeOf(n.Schema(), qual)
	r.node = n
	return r
}

// requalify returns r with every column qualified by qual only.
func (r *relation) requalify(qual string) *relation {
	out := &relation{node: r.node, cols: slices.Clone(r.cols)}
	for i := range out.cols {
		out.cols[i].quals = nil
		if qual != "" {
			out.cols[i].quals = []string{strings.ToLower(qual)}
		}
	}
	return out
}

func (r *relation) visibleNames() []string {
	var names []string
	for _, c := range r.cols {
		if !c.hidden {
			names = append(names, c.name)
		}
	}
	return names
}

func (r *relation) quals() []string {
	var qs []string
	for _, c := range r.cols {
		for _, q := range c.quals {
			if !slices.Contains(qs, q) {
				qs = append(qs, q)
			}
		}
	}
	return qs
}

// lookupError says why a column reference failed.
type lookupError struct {
	cause error
	msg   string
}

// lookup finds the column qual.name (qual "" for any). Names match
// without regard to case; an exact match wins over a folded one.
func (r *relation) lookup(qual, name string) (*column, *lookupError) {
	qual = strings.ToLower(qual)
	if qual != "" && !slices.Contains(r.quals(), qual) {
		return nil, &lookupError{cause: ErrInvalid, msg: fmt.Sprintf("unknown table or alias %s in %s%s (tables in scope: %s)",
			quoteIdent(qual), quoteIdent(qual+"."+name), didYouMean(qual, r.quals()), quoteList(r.quals()))}
	}
	var vis, hid []*column
	for i := range r.cols {
		c := &r.cols[i]
		if !strings.EqualFold(c.name, name) || (qual != "" && !slices.Contains(c.quals, qual)) {
			continue
		}
		if c.hidden {
			hid = append(hid, c)
		} else {
			vis = append(vis, c)
		}
	}
	cands := vis
	if len(cands) == 0 {
		cands = hid
	}
	if len(cands) > 1 {
		var exact []*column
		for _, c := range cands {
			if c.name == name {
				exact = append(exact, c)
			}
		}
		if len(exact) == 1 {
			cands = exact
		}
	}
	switch len(cands) {
	case 1:
		return cands[0], nil
	case 0:
		avail := r.visibleNames()
		full := name
		if qual != "" {
			full = qual + "." + name
			avail = nil
			for _, c := range r.cols {
				if slices.Contains(c.quals, qual) {
					avail = append(avail, c.name)
				}
			}
		}
		return nil, &lookupError{
			cause: &expr.ColumnNotFoundError{Name: full, Available: avail},
			msg:   fmt.Sprintf("unknown column %s%s (available: %s)", quoteIdent(full), didYouMean(name, avail), quoteList(avail)),
		}
	}
	var options []string
	for _, c := range cands {
		if len(c.quals) > 0 {
			options = append(options, c.quals[0]+"."+c.name)
		}
	}
	hint := ""
	if len(options) > 0 {
		hint = "; qualify it: " + strings.Join(options, " or ")
	}
	return nil, &lookupError{
		cause: &expr.AmbiguousColumnError{Name: name, Count: len(cands)},
		msg:   fmt.Sprintf("column %s is ambiguous%s", quoteIdent(name), hint),
	}
}

// uniqueName returns base, or base with a suffix, so that it is not in used.
func uniqueName(base string, used map[string]bool) string {
	n := base
	for i := 2; used[n]; i++ {
		n = fmt.Sprintf("%s#%d", base, i)
	}
	used[n] = true
	return n
}
