package sql

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestLargeInput plans deeply nested and very long queries: each either
// plans or fails with an *Error, quickly.
func TestLargeInput(t *testing.T) {
	cat := testCatalog(t)
	for _, q := range []string{
		"SELECT " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000),
		"SELECT " + strings.Repeat("1 + ", 20000) + "1",
		"SELECT " + strings.Repeat("signal + ", 3000) + "1 FROM events",
		"SELECT * FROM events WHERE device IN (" + strings.Repeat("'x', ", 20000) + "'y')",
		"SELECT " + strings.Repeat("lower(", 2000) + "device" + strings.Repeat(")", 2000) + " FROM events",
		strings.Repeat("SELECT 1 UNION ALL ", 2000) + "SELECT 1",
		strings.Repeat("x", maxQueryBytes+1),
	} {
		_, err := Plan(context.Background(), q, cat)
		var se *Error
		if err != nil && !errors.As(err, &se) {
			t.Errorf("%.40q...: %v is not a *sql.Error", q, err)
		}
	}
}
