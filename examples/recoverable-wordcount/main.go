// Command recoverable-wordcount is a streaming word count that survives
// being killed: run it, drop text files into the input directory, kill it
// with kill -9 at any moment, start it again with the same flags, and the
// running totals go on from where they were, with every batch's output
// written exactly once.
//
//	go run ./examples/recoverable-wordcount --in /tmp/wc/in --out /tmp/wc/out --checkpoint /tmp/wc/ckpt
//	echo "to be or not to be" > /tmp/wc/staging.txt && mv /tmp/wc/staging.txt /tmp/wc/in/a.txt
//
// Each batch writes the running totals to <out>/totals-<batch time in ms>/
// (part files and a _SUCCESS marker, written atomically). What makes it
// recoverable:
//   - dstream.GetOrCreate builds the graph with create on every start and,
//     when the checkpoint directory holds a checkpoint, restores the state
//     and re-runs the batches that had not completed, with the files they
//     had read;
//   - the stateful stream and the input have names (Name), so the code
//     around them may change between runs;
//   - SaveAsTextFiles names each batch's output after its batch time and
//     skips a batch whose output exists, so a re-run batch writes nothing
//     twice.
//
// `go run ./cmd/spate checkpoint --dir /tmp/wc/ckpt` shows what a restart
// would do.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/rdd"
)

func main() {
	in := flag.String("in", "", "read new text files from `DIR` (required)")
	out := flag.String("out", "", "write each batch's totals under `DIR` (required)")
	ckpt := flag.String("checkpoint", "", "keep the checkpoint in `DIR` (required)")
	interval := flag.Duration("interval", 2*time.Second, "batch interval")
	flag.Parse()
	if *in == "" || *out == "" || *ckpt == "" {
		fmt.Fprintln(os.Stderr, "recoverable-wordcount: --in, --out and --checkpoint are required")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*in, *out, *ckpt, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "recoverable-wordcount:", err)
		os.Exit(1)
	}
}

func run(in, out, ckpt string, interval time.Duration) error {
	for _, d := range []string{in, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	ec, err := engine.New()
	if err != nil {
		return err
	}
	defer ec.Close()
	create := func() (*dstream.StreamingContext, error) {
		ssc, err := dstream.NewStreamingContext(ec, interval)
		if err != nil {
			return nil, err
		}
		lines := dstream.TextFileStream(ssc, in).Name("lines")
		words := dstream.Map(dstream.FlatMap(lines, strings.Fields), func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
		totals := dstream.UpdateStateByKey(words, func(vs []int, total int, _ bool) (int, bool) {
			return total + len(vs), true
		}).Name("totals")
		return ssc, totals.SaveAsTextFiles(filepath.Join(out, "totals"), "")
	}
	ssc, err := dstream.GetOrCreate(ckpt, create)
	if err != nil {
		return err
	}
	if err := ssc.Start(); err != nil {
		return err
	}
	fmt.Printf("counting words of new files in %s every %v; totals in %s; Ctrl-C stops gracefully\n", in, interval, out)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return ssc.Stop(stopCtx, true)
	case <-waitTermination(ssc):
		return ssc.AwaitTermination(context.Background())
	}
}

func waitTermination(ssc *dstream.StreamingContext) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		_ = ssc.AwaitTermination(context.Background())
		close(done)
	}()
	return done
}
