package sql

import (
	"context"
	"testing"
)

func BenchmarkPlan(b *testing.B) {
	cat := testCatalog(b)
	queries := map[string]string{
		"simple": "SELECT device, signal FROM events WHERE signal > 10",
		"aggregate": `SELECT device, count(*) AS n, avg(signal) FROM events WHERE kind = 'temp'
			GROUP BY device HAVING count(*) > 1 ORDER BY n DESC LIMIT 10`,
		"join": `WITH hot AS (SELECT device, max(signal) AS m FROM events GROUP BY device)
			SELECT h.device, h.m, d.type FROM hot h JOIN devices d ON h.device = d.device
			WHERE EXISTS (SELECT 1 FROM tweets t WHERE t.id = d.floor)`,
	}
	for name, q := range queries {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Plan(context.Background(), q, cat); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
