-- Device signal ETL: readings that arrive as JSON files, the strong ones
-- written to Parquet, exactly once (the sink's log and the checkpoint).
--   go run ./cmd/spate run --available-now examples/sql/device_etl.sql
CREATE SOURCE readings (device STRING, kind STRING, signal DOUBLE, ts TIMESTAMP)
  WITH (format = 'json', path = 'data/readings', maxFilesPerTrigger = '1');

CREATE SINK strong_readings
  WITH (format = 'parquet', path = 'out/strong_readings', checkpoint = 'out/checkpoints/strong_readings');

INSERT INTO strong_readings
SELECT device, kind, signal, ts
FROM readings
WHERE signal > 10;
