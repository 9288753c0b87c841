package rdd

import (
	"context"
	"testing"
	"time"

	"github.com/spate-io/spate/engine"
)

// newEngine returns a running engine Context that is closed when the test
// ends. It fails the test if the options are invalid.
func newEngine(t *testing.T, opts ...engine.Option) *engine.Context {
	t.Helper()
	ec, err := engine.New(opts...)
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	t.Cleanup(func() { _ = ec.Close() })
	return ec
}

// testCtx returns a context that is cancelled after 10 s or when the test
// ends, whichever comes first.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
