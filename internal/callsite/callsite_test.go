package callsite

import (
	"strings"
	"testing"
)

func TestOutsideNamesTheCaller(t *testing.T) {
	got := Outside()
	if !strings.HasPrefix(got, "callsite_test.go:") {
		t.Fatalf("Outside() = %q, want this test file's line", got)
	}
}
