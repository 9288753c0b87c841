package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

func versionUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: spate version

Prints spate's version (the main module's version, or "(devel)" for a build
from a source tree), the commit it was built from when known, and the Go
version and platform.
`)
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, versionUsage, stdout, stderr); !ok {
		return code
	}
	info, _ := debug.ReadBuildInfo()
	writeVersion(stdout, info)
	return exitOK
}

// writeVersion prints the version lines for info, which may be nil (a
// binary built without module support).
func writeVersion(w io.Writer, info *debug.BuildInfo) {
	version, goVersion := "(devel)", runtime.Version()
	var revision, modified string
	if info != nil {
		if v := info.Main.Version; v != "" {
			version = v
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
	}
	fmt.Fprintf(w, "spate %s\n", version)
	if revision != "" {
		fmt.Fprintf(w, "commit %s%s\n", revision, modified)
	}
	fmt.Fprintf(w, "%s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
}
