// Package callsite finds where user code called into spate, to name RDDs,
// streams and jobs after the user's line ("Map at wordcount.go:12") as
// Spark does.
package callsite

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
)

// libraryPrefixes are the packages whose frames are skipped: spate's API
// layers, which call one another on the user's behalf.
var libraryPrefixes = []string{
	"github.com/spate-io/spate/rdd.",
	"github.com/spate-io/spate/dstream.",
	"github.com/spate-io/spate/engine.",
}

// Outside returns "file.go:line" of the first caller that is not in one
// of spate's API packages (their test files count as outside). When there
// is none, as for RDDs a streaming context builds on its own goroutines,
// it returns the outermost spate frame, or "unknown".
func Outside() string {
	var pcs [32]uintptr
	n := runtime.Callers(2, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	outermost := "unknown"
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, "runtime.") {
			return outermost
		}
		site := fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line)
		if !isLibrary(f) {
			return site
		}
		outermost = site
		if !more {
			return outermost
		}
	}
}

func isLibrary(f runtime.Frame) bool {
	if strings.HasSuffix(f.File, "_test.go") {
		return false
	}
	for _, p := range libraryPrefixes {
		if strings.HasPrefix(f.Function, p) {
			return true
		}
	}
	return false
}
