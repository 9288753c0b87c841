// Command spate is spate's command-line tool.
//
// Usage:
//
//	spate <command> [flags]
//
// The commands are:
//
//	demo        run a streaming word count with a web UI and print every batch (--batch: an RDD word count)
//	run         run a streaming pipeline written in SQL (CREATE SOURCE, CREATE SINK, INSERT INTO ... SELECT)
//	checkpoint  describe a streaming program's checkpoint directory (--verify: check every state file)
//	bench       run the YSB and Nexmark benchmarks against hand-written baselines (--list for the queries)
//	version     print spate's version and the Go version it was built with
//	help        print this usage, or a command's flags ("spate help demo")
//
// Exit codes: 0 on success, 1 when a command fails, 2 for a usage error (an
// unknown command, a bad flag or flag value), 130 when interrupted (the
// streaming demo treats Ctrl-C as its normal end: it stops gracefully and
// exits 0; a second Ctrl-C ends the process at once).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes of run.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, as shells report it
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling so that a
	// second Ctrl-C ends the process at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand of spate.
type command struct {
	name    string
	summary string
	// run runs the command with the arguments after its name and returns
	// the exit code.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) int
	// usage prints the command's synopsis and flags.
	usage func(w io.Writer)
}

// commands returns spate's subcommands in the order usage lists them.
func commands() []command {
	return []command{
		{name: "demo", summary: "run a streaming word count with a web UI and print every batch (--batch: an RDD word count)", run: runDemo, usage: demoUsage},
		{name: "run", summary: "run a streaming pipeline written in SQL (CREATE SOURCE, CREATE SINK, INSERT INTO ... SELECT)", run: runRun, usage: runUsage},
		{name: "checkpoint", summary: "describe a streaming program's checkpoint directory (--verify: check every state file)", run: runCheckpoint, usage: checkpointUsage},
		{name: "bench", summary: "run the YSB and Nexmark benchmarks against hand-written baselines (--list for the queries)", run: runBench, usage: benchUsage},
		{name: "version", summary: "print spate's version and the Go version it was built with", run: runVersion, usage: versionUsage},
		{name: "help", summary: `print this usage, or a command's flags ("spate help demo")`, run: runHelp, usage: helpUsage},
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// run executes the command line args (without the program name), writing
// to stdout and stderr, and returns the process exit code. Cancelling ctx
// interrupts the running command.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return exitOK
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	}
	c, ok := lookup(args[0])
	if !ok {
		if strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(stderr, "spate: flag %s given before a command\n\n", args[0])
		} else {
			fmt.Fprintf(stderr, "spate: unknown command %q\n\n", args[0])
		}
		usage(stderr)
		return exitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

// usage prints the list of commands.
func usage(w io.Writer) {
	fmt.Fprint(w, `spate runs Spark-style jobs and streams (typed RDDs, DStreams, DataFrames, Structured Streaming) on a Go execution core.

Usage:
  spate <command> [flags]

Commands:
`)
	width := 0
	for _, c := range commands() {
		width = max(width, len(c.name))
	}
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "spate help <command>" for a command's flags.
`)
}

func helpUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: spate help [command]

Prints the list of commands, or the usage and flags of one command.
`)
}

func runHelp(_ context.Context, args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		usage(stdout)
		return exitOK
	case 1:
		if c, ok := lookup(args[0]); ok {
			c.usage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "spate help: unknown command %q\n\n", args[0])
	default:
		fmt.Fprintf(stderr, "spate help: too many arguments: %s\n\n", strings.Join(args, " "))
	}
	usage(stderr)
	return exitUsage
}

// parseFlags parses a command's arguments with fs, which must not take
// positional arguments. ok is false when the command should not run; code
// is then its exit code: 0 after -h (usage printed to stdout), 2 after a
// bad flag (the error and the usage printed to stderr).
func parseFlags(fs *flag.FlagSet, args []string, usage func(io.Writer), stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(io.Discard) // errors and usage are printed below
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return exitOK, false
	case err != nil:
		fmt.Fprintf(stderr, "spate %s: %v\n\n", fs.Name(), err)
		usage(stderr)
		return exitUsage, false
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "spate %s: unexpected argument %q\n\n", fs.Name(), fs.Arg(0))
		usage(stderr)
		return exitUsage, false
	}
	return exitOK, true
}

// printFlags lists fs's flags as "--name VALUE  usage (default ...)": the
// named ones in the order given, or all of them by name when none is.
func printFlags(w io.Writer, fs *flag.FlagSet, names ...string) {
	type line struct{ left, right string }
	var lines []line
	width := 0
	visit := fs.VisitAll
	if len(names) > 0 {
		visit = func(fn func(*flag.Flag)) {
			for _, n := range names {
				if f := fs.Lookup(n); f != nil {
					fn(f)
				}
			}
		}
	}
	visit(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		left := "--" + f.Name
		if arg != "" {
			left += " " + arg
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() && f.DefValue == "false" {
			// An off switch: "(default false)" says nothing.
		} else if f.DefValue != "" {
			text += " (default " + f.DefValue + ")"
		}
		lines = append(lines, line{left, text})
		width = max(width, len(left))
	})
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l.left, l.right)
	}
}
