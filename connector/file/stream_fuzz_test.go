package file

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/spate-io/spate/checkpoint"
	"github.com/spate-io/spate/connector"
)

// FuzzMetadataLogs decodes arbitrary (checksummed, so past the checkpoint
// layer) payloads as entries and compactions of the seen-files log and the
// sink metadata log: errors are fine, panics are not, and whatever loads
// must be usable.
func FuzzMetadataLogs(f *testing.F) {
	f.Add([]byte(`{"start":0,"files":[{"path":"a.json","size":1,"mtime":5}]}`), []byte(`{"base":1,"files":[]}`), []byte(`{"v":1,"batchId":0,"files":[{"path":"p","size":1}]}`))
	f.Add([]byte(`{"start":3}`), []byte(`{"base":-4,"files":[{"path":"../x"}]}`), []byte(`{"v":1,"lastBatchId":9,"batches":[{"batchId":9}]}`))
	f.Add([]byte(`null`), []byte(`[]`), []byte(`{"v":2}`))
	f.Fuzz(func(t *testing.T, delta, compact, sink []byte) {
		meta := t.TempDir()
		if err := checkpoint.WriteFile(meta, "3.compact", seenLogKind, compact); err != nil {
			t.Fatal(err)
		}
		if err := checkpoint.WriteFile(meta, "3", seenLogKind, delta); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if s, err := NewStreamSource(context.Background(), dir, "json", StreamSourceOptions{Schema: idSchema, MetadataDir: meta}); err == nil {
			n := s.length()
			_ = s.Files(0, n)
			_, _ = readRange(t, s, max(0, n-1), n)
			_ = s.Commit(context.Background(), connector.Offsets{StreamPartition: n})
			if _, err := s.LatestOffsets(context.Background()); err != nil {
				t.Fatal(err)
			}
		}

		out := t.TempDir()
		ml := filepath.Join(out, SinkMetadataDir)
		if _, err := NewStreamSink(out, "json", StreamSinkOptions{}); err != nil { // creates the log directory
			t.Fatal(err)
		}
		if err := checkpoint.WriteFile(ml, "4", sinkLogKind, sink); err != nil {
			t.Fatal(err)
		}
		if err := checkpoint.WriteFile(ml, "2.compact", sinkLogKind, sink); err != nil {
			t.Fatal(err)
		}
		_, _ = CommittedFiles(out)
		_, _ = ListFiles(out)
		if s2, err := NewStreamSink(out, "json", StreamSinkOptions{}); err == nil {
			_, _, _ = s2.LastBatchID(context.Background())
		}
	})
}
