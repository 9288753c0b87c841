//go:build !cgo

package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/spate-io/spate/plan"
)

func parse(string) (*pg.ParseResult, map[int]plan.JoinType, error) { return nil, nil, ErrNoCgo }

func scan(string) []*pg.ScanToken { return nil }

func tokenLen(string, int) int { return 1 }

const haveParser = false
