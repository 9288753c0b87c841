package dstream

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spate-io/spate/checkpoint"
)

// CheckpointInfo describes a streaming context's checkpoint directory, as
// [InspectCheckpoint] found it.
type CheckpointInfo struct {
	Dir string
	// Metadata is the newest metadata checkpoint that reads back, and
	// MetadataFile its file; MetadataErrors lists newer files that did
	// not (a recovery without RecoverFromOlderCheckpoint stops at the
	// first of them).
	MetadataFile   string
	MetadataErrors []error
	BatchInterval  time.Duration
	// ZeroTime anchors batch times; LastGenerated and LastCompleted are
	// the newest batch times generated and completed.
	ZeroTime, LastGenerated, LastCompleted time.Time
	// Pending are the batches generated and not completed: a restart
	// re-runs them.
	Pending []time.Time
	// StateCheckpoints are the batch times of the complete state
	// checkpoints, oldest first; a restart uses the newest that reads.
	StateCheckpoints []time.Time
	Stateful         []StatefulCheckpoint
	Inputs           []InputCheckpoint
}

// StatefulCheckpoint describes the state files of one stateful stream.
type StatefulCheckpoint struct {
	Name, Op   string
	Partitions int
	// Files are the state files, by partition; with verify, Errors lists
	// those that do not read back.
	Files  int
	Bytes  int64
	Errors []error
}

// InputCheckpoint describes what an input keeps for replaying batches.
type InputCheckpoint struct {
	Name, Op string
	// Batches is the number of batches whose input is recorded.
	Batches int
	// LogSegments and LogBytes describe the receiver's write-ahead log,
	// if any.
	LogSegments int
	LogBytes    int64
}

// InspectCheckpoint reads the checkpoint directory dir of a streaming
// context without starting anything: the newest readable metadata
// checkpoint, the state files per stateful stream and the write-ahead
// log segments. With verify it also reads every state file and checks its
// checksum (which reads all the state). It is what `spate checkpoint`
// prints. dir without a checkpoint gives an error matching
// checkpoint.ErrNoCheckpoint.
func InspectCheckpoint(dir string, verify bool) (*CheckpointInfo, error) {
	var skipped []error
	m, seq, err := readMetadata(dir, true, func(_ string, args ...any) {
		for i := 0; i+1 < len(args); i += 2 {
			if e, ok := args[i+1].(error); ok {
				skipped = append(skipped, e)
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("dstream.InspectCheckpoint: %w", err)
	}
	info := &CheckpointInfo{
		Dir: dir, MetadataFile: filepath.Join(dir, checkpoint.FileName("metadata", seq)), MetadataErrors: skipped,
		BatchInterval: time.Duration(m.BatchIntervalNs), ZeroTime: time.Unix(0, m.ZeroTimeNs),
		LastGenerated: time.Unix(0, m.LastGeneratedNs), LastCompleted: time.Unix(0, m.LastCompletedNs),
	}
	for _, t := range m.PendingNs {
		info.Pending = append(info.Pending, time.Unix(0, t))
	}
	for _, t := range m.CheckpointsNs {
		info.StateCheckpoints = append(info.StateCheckpoints, time.Unix(0, t))
	}
	for _, s := range m.Stateful {
		sc := StatefulCheckpoint{Name: s.Name, Op: s.Op, Partitions: s.Partitions}
		for p := range s.Partitions {
			pdir := filepath.Join(dir, "state", s.Name, strconv.Itoa(p))
			entries, err := os.ReadDir(pdir)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				sc.Errors = append(sc.Errors, err)
				continue
			}
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					continue
				}
				sc.Files++
				if fi, err := e.Info(); err == nil {
					sc.Bytes += fi.Size()
				}
				if verify {
					if _, err := checkpoint.ReadFile(filepath.Join(pdir, e.Name()), "state"); err != nil {
						sc.Errors = append(sc.Errors, err)
					}
				}
			}
		}
		info.Stateful = append(info.Stateful, sc)
	}
	names := make([]string, 0, len(m.Inputs))
	for name := range m.Inputs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		in := m.Inputs[name]
		ic := InputCheckpoint{Name: name, Op: in.Op, Batches: len(in.Batches)}
		segs, _ := filepath.Glob(filepath.Join(dir, "receivedData", name, "log-*"))
		for _, s := range segs {
			ic.LogSegments++
			if fi, err := os.Stat(s); err == nil {
				ic.LogBytes += fi.Size()
			}
		}
		info.Inputs = append(info.Inputs, ic)
	}
	return info, nil
}
