package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spate-io/spate/checkpoint"
	"github.com/spate-io/spate/dstream"
)

func checkpointUsage(w io.Writer) {
	fs := checkpointFlags(new(checkpointConfig))
	fmt.Fprint(w, `Usage: spate checkpoint --dir DIR [--verify]

Describes the checkpoint directory of a streaming program (one that uses
dstream.GetOrCreate) without starting it: the batch interval, the last batch
generated and completed, the batches a restart re-runs, the complete state
checkpoints, the state files of every stateful stream, and what each input
keeps to replay batches (recorded batches, write-ahead log segments). Damaged
metadata files are listed; with --verify every state file is read and its
checksum checked too. The exit code is 1 when something is damaged (a restart
would fail without dstream.RecoverFromOlderCheckpoint), 0 otherwise.

Flags:
`)
	printFlags(w, fs)
}

type checkpointConfig struct {
	dir    string
	verify bool
}

func checkpointFlags(cfg *checkpointConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("checkpoint", flag.ContinueOnError)
	fs.StringVar(&cfg.dir, "dir", "", "the checkpoint `DIR`ectory (required)")
	fs.BoolVar(&cfg.verify, "verify", false, "read every state file and check its checksum")
	return fs
}

func runCheckpoint(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg checkpointConfig
	fs := checkpointFlags(&cfg)
	if code, ok := parseFlags(fs, args, checkpointUsage, stdout, stderr); !ok {
		return code
	}
	if cfg.dir == "" {
		fmt.Fprint(stderr, "spate checkpoint: --dir is required\nRun \"spate help checkpoint\" for usage.\n")
		return exitUsage
	}
	info, err := dstream.InspectCheckpoint(cfg.dir, cfg.verify)
	if err != nil {
		if errors.Is(err, checkpoint.ErrNoCheckpoint) {
			fmt.Fprintf(stderr, "spate checkpoint: %s holds no streaming checkpoint\n", cfg.dir)
		} else {
			fmt.Fprintf(stderr, "spate checkpoint: %v\n", err)
		}
		return exitFailure
	}
	if writeCheckpointInfo(stdout, info) > 0 {
		return exitFailure
	}
	return exitOK
}

// writeCheckpointInfo prints info and returns the number of problems.
func writeCheckpointInfo(w io.Writer, info *dstream.CheckpointInfo) int {
	at := func(t time.Time) string {
		if t.UnixNano() == 0 || t.Equal(info.ZeroTime) {
			return "none"
		}
		return fmt.Sprintf("%s (%d ms)", t.UTC().Format("2006-01-02 15:04:05.000"), t.UnixMilli())
	}
	times := func(ts []time.Time) string {
		if len(ts) == 0 {
			return "none"
		}
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = at(t)
		}
		return strings.Join(s, ", ")
	}
	fmt.Fprintf(w, "checkpoint     %s\n", info.Dir)
	fmt.Fprintf(w, "metadata       %s\n", info.MetadataFile)
	fmt.Fprintf(w, "interval       %v\n", info.BatchInterval)
	fmt.Fprintf(w, "generated      %s\n", at(info.LastGenerated))
	fmt.Fprintf(w, "completed      %s\n", at(info.LastCompleted))
	fmt.Fprintf(w, "pending        %s\n", times(info.Pending))
	fmt.Fprintf(w, "state saved at %s\n", times(info.StateCheckpoints))
	for _, s := range info.Stateful {
		fmt.Fprintf(w, "stateful       %s (%s): %d partitions, %d files, %s\n", s.Name, s.Op, s.Partitions, s.Files, formatBytes(s.Bytes))
	}
	for _, in := range info.Inputs {
		line := fmt.Sprintf("input          %s (%s): %d batches recorded", in.Name, in.Op, in.Batches)
		if in.LogSegments > 0 {
			line += fmt.Sprintf(", write-ahead log %d segments, %s", in.LogSegments, formatBytes(in.LogBytes))
		}
		fmt.Fprintln(w, line)
	}
	problems := len(info.MetadataErrors)
	for _, e := range info.MetadataErrors {
		fmt.Fprintf(w, "damaged        %v\n", e)
	}
	for _, s := range info.Stateful {
		problems += len(s.Errors)
		for _, e := range s.Errors {
			fmt.Fprintf(w, "damaged        %v\n", e)
		}
	}
	if problems == 0 {
		fmt.Fprintln(w, "problems       none")
	}
	return problems
}

// formatBytes prints n in B, KB, MB or GB.
func formatBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
}
