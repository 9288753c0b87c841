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

func TestOutsideOnAGoroutineWithoutUserFrames(t *testing.T) {
	got := make(chan string)
	go func() { got <- Outside() }()
	// The goroutine's only frames are this test's closure, then runtime.
	if s := <-got; !strings.HasPrefix(s, "callsite_test.go:") {
		t.Fatalf("Outside() = %q, want the closure's line", s)
	}
}
