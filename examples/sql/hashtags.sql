-- Hashtag counts over lines of text (one hashtag per line here), the
-- running totals printed after every batch.
--   go run ./cmd/spate run --available-now examples/sql/hashtags.sql
CREATE SOURCE tweets WITH (format = 'text', path = 'data/tweets');

CREATE SINK tag_counts
  WITH (format = 'console', output_mode = 'complete', checkpoint = 'out/checkpoints/tag_counts');

INSERT INTO tag_counts
SELECT regexp_extract(value, '#[a-z]+', 0) AS tag, count(*) AS n
FROM tweets
GROUP BY regexp_extract(value, '#[a-z]+', 0);
