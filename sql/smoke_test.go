package sql

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

func TestSmoke(t *testing.T) {
	ev, _ := plan.NewLocalRelation(arrow.NewSchema([]arrow.Field{{Name: "device", Type: arrow.BinaryTypes.String}, {Name: "signal", Type: arrow.PrimitiveTypes.Float64}, {Name: "ts", Type: expr.TimestampType}}, nil), nil)
	dv, _ := plan.NewLocalRelation(arrow.NewSchema([]arrow.Field{{Name: "device", Type: arrow.BinaryTypes.String}, {Name: "type", Type: arrow.BinaryTypes.String}}, nil), nil)
	cat := MapCatalog{"events": ev, "devices": dv}
	for _, q := range []string{
		"SELECT device, avg(signal) AS s FROM events WHERE signal > 10 GROUP BY device HAVING count(*) > 2 ORDER BY s DESC LIMIT 5",
		"SELECT e.device, d.type FROM events e JOIN devices d ON e.device = d.device",
		"SELECT * FROM events e JOIN devices d USING (device)",
		"SELECT * FROM events e LEFT SEMI JOIN devices d ON e.device = d.device",
		"SELECT * FROM events WHERE device IN (SELECT device FROM devices)",
		"SELECT * FROM events e WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.device = e.device AND type = 'x')",
		"SELECT window(ts, '10 seconds'), count(*) FROM events GROUP BY 1",
		"SELECT sigal FROM events",
		"SELECT device FROM evnts",
		"SELECT device FORM events",
		"WITH t AS (SELECT device, signal * 2 AS s2 FROM events) SELECT device, max(s2) FROM t GROUP BY device UNION ALL SELECT device, 1.0 FROM devices",
		"SELECT 1 + 1, 'a' || 'b'",
		"SELECT device, CASE WHEN signal > 1 THEN 'hi' ELSE 'lo' END AS lvl, CAST(signal AS int) FROM events WHERE device LIKE 'a%' AND signal BETWEEN 1 AND 2 AND ts IS NOT NULL",
		"SELECT count(DISTINCT device), substring(device, 1, 3) FROM events GROUP BY substring(device, 1, 3)",
		"SELECT * FROM events, devices WHERE events.device = devices.device",
	} {
		n, err := Plan(context.Background(), q, cat)
		if err != nil {
			fmt.Printf("%s\n=> %v\n\n", q, err)
			continue
		}
		fmt.Printf("%s\n=> %s %v\n\n", q, plan.Explain(n), n.Schema())
	}
}
