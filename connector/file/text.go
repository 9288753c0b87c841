package file

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
)

// readText implements ReadFile for text: one row per line in the schema's
// single string column (default "value"), or one row per file with option
// wholetext=true.
func readText(ctx context.Context, path string, o ReadOptions, emit func(arrow.RecordBatch) error) (ReadStats, error) {
	var st ReadStats
	p, err := planText(FormatText, path, o, false)
	if err != nil {
		return st, err
	}
	if len(p.data) != 1 || (p.data[0].Type.ID() != arrow.STRING && p.data[0].Type.ID() != arrow.LARGE_STRING) {
		return st, fmt.Errorf("file: text %s: the schema must have exactly one string column besides partition columns, got %s", path, o.Schema)
	}
	whole, err := p.opts.boolean("wholetext", false)
	if err != nil {
		return st, err
	}
	lr, err := openLines(path, &st, o.Range, FormatText, p.opts)
	if err != nil {
		return st, err
	}
	defer lr.close()
	b := newBatcher(o, p, &st, emit)
	defer b.release()
	appendRow := func(line []byte) error {
		v := cell{valid: true, s: line}
		for _, c := range p.cols {
			if c.role == rolePartition {
				c.appendCell(&c.konst)
			} else {
				c.appendCell(&v)
			}
		}
		return b.row(ctx)
	}
	if whole {
		data, err := io.ReadAll(lr.r)
		if err != nil {
			return st, fmt.Errorf("file: read %s: %w", path, err)
		}
		if err := appendRow(data); err != nil {
			return st, err
		}
		return st, b.flush(ctx)
	}
	for {
		line, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, fmt.Errorf("file: read %s: %w", path, err)
		}
		if err := appendRow(line); err != nil {
			return st, err
		}
	}
	return st, b.flush(ctx)
}
