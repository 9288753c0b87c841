-- Average signal per device kind over 10-second event-time windows; with the
-- watermark and append mode each window is written once, when it is final.
--   go run ./cmd/spate run --available-now examples/sql/device_windows.sql
CREATE SOURCE readings (device STRING, kind STRING, signal DOUBLE, ts TIMESTAMP,
                        WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH (format = 'json', path = 'data/readings');

CREATE SINK averages
  WITH (format = 'console', output_mode = 'append', checkpoint = 'out/checkpoints/averages');

INSERT INTO averages
SELECT window(ts, '10 seconds') AS window_start, kind, avg(signal) AS avg_signal, count(*) AS readings
FROM readings
GROUP BY window(ts, '10 seconds'), kind;
