//go:build !cgo

package sql

import (
	"fmt"
	"os"
	"testing"
)

// TestMain skips the package's tests in a build without cgo, where the
// parser is missing (every call returns ErrNoCgo), so that go test ./...
// passes on a machine with Go alone; with SPATE_INTEGRATION set (CI),
// the missing C compiler is an error instead.
func TestMain(m *testing.M) {
	if os.Getenv("SPATE_INTEGRATION") != "" {
		fmt.Fprintln(os.Stderr, "sql: built without cgo (no C compiler?), and SPATE_INTEGRATION is set: SQL tests cannot run")
		os.Exit(1)
	}
	fmt.Println("sql: skipping the tests: SQL needs a build with cgo (CGO_ENABLED=1 and a C compiler)")
	os.Exit(0)
}
