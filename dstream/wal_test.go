package dstream

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/spate-io/spate/rdd"
)

func walAppend(t *testing.T, l *writeAheadLog, payloads ...string) []uint64 {
	t.Helper()
	var seqs []uint64
	for _, p := range payloads {
		seq, err := l.append([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

func walRead(t *testing.T, l *writeAheadLog, seq uint64) string {
	t.Helper()
	b, err := l.read(seq)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWALReopenFindsBlocksAndContinues(t *testing.T) {
	dir := t.TempDir()
	l, err := openWAL(dir)
	if err != nil {
		t.Fatal(err)
	}
	if seqs := walAppend(t, l, "one", "two", "three"); !slices.Equal(seqs, []uint64{1, 2, 3}) {
		t.Fatalf("seqs = %v", seqs)
	}
	l.close()
	l2, err := openWAL(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := walRead(t, l2, 2); got != "two" {
		t.Errorf("block 2 = %q", got)
	}
	if got := l2.unallocated(1); !slices.Equal(got, []uint64{2, 3}) {
		t.Errorf("unallocated(1) = %v", got)
	}
	if seqs := walAppend(t, l2, "four"); seqs[0] != 4 {
		t.Errorf("next block = %d, want 4", seqs[0])
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "log-*"))
	if len(segs) != 2 {
		t.Errorf("segments = %v, want a new one after reopening", segs)
	}
}

func TestWALTornTailIsCutOff(t *testing.T) {
	dir := t.TempDir()
	l, _ := openWAL(dir)
	walAppend(t, l, "one", "two")
	l.close()
	seg := filepath.Join(dir, walSegmentName(1))
	b, _ := os.ReadFile(seg)
	if err := os.WriteFile(seg, b[:len(b)-2], 0o644); err != nil { // a crash mid-append
		t.Fatal(err)
	}
	l2, err := openWAL(dir)
	if err != nil {
		t.Fatalf("a torn last record must not be an error: %v", err)
	}
	if got := l2.unallocated(0); !slices.Equal(got, []uint64{1}) {
		t.Errorf("blocks = %v, want only the intact one", got)
	}
	walAppend(t, l2, "two again")
	l2.close()
	// Once the torn segment is no longer the newest, it still reads clean.
	l3, err := openWAL(dir)
	if err != nil {
		t.Fatalf("reopening after the torn record was cut off: %v", err)
	}
	if got := walRead(t, l3, 2); got != "two again" {
		t.Errorf("block 2 = %q", got)
	}
}

func TestWALCorruptionIsAnError(t *testing.T) {
	dir := t.TempDir()
	l, _ := openWAL(dir)
	walAppend(t, l, "one", "two")
	l.close()
	l2, _ := openWAL(dir)
	walAppend(t, l2, "three") // a second segment: the first is no longer the newest
	l2.close()
	seg := filepath.Join(dir, walSegmentName(1))
	b, _ := os.ReadFile(seg)
	b[walRecordHeader+1] ^= 1
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := openWAL(dir)
	if !errors.Is(err, errWALCorrupt) || !strings.Contains(err.Error(), seg) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("openWAL = %v, want a checksum error naming %s", err, seg)
	}
}

func TestWALMissingSegment(t *testing.T) {
	dir := t.TempDir()
	l, _ := openWAL(dir)
	walAppend(t, l, "one")
	l.close()
	l2, _ := openWAL(dir)
	walAppend(t, l2, "two")
	l2.close()
	os.Remove(filepath.Join(dir, walSegmentName(1)))
	l3, err := openWAL(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = l3.read(1)
	if err == nil || !strings.Contains(err.Error(), "block 1 is missing") {
		t.Fatalf("read(1) = %v, want a missing-block error", err)
	}
}

func TestWALDeleteThroughKeepsNeededSegments(t *testing.T) {
	dir := t.TempDir()
	var last *writeAheadLog
	for i := range 3 { // three segments: blocks 1-2, 3-4, 5-6
		l, err := openWAL(dir)
		if err != nil {
			t.Fatal(err)
		}
		walAppend(t, l, fmt.Sprint(2*i+1), fmt.Sprint(2*i+2))
		if i < 2 {
			l.close()
		}
		last = l
	}
	last.deleteThrough(3) // block 4 is still needed: the second segment stays
	segs, _ := filepath.Glob(filepath.Join(dir, "log-*"))
	if want := []string{filepath.Join(dir, walSegmentName(3)), filepath.Join(dir, walSegmentName(5))}; !slices.Equal(segs, want) {
		t.Errorf("segments = %v, want %v", segs, want)
	}
	last.deleteThrough(100) // the newest segment always stays
	segs, _ = filepath.Glob(filepath.Join(dir, "log-*"))
	if len(segs) != 1 {
		t.Errorf("segments = %v, want the newest only", segs)
	}
}

func FuzzWALScan(f *testing.F) {
	dir := f.TempDir()
	l, _ := openWAL(dir)
	l.append([]byte("hello"))
	l.append([]byte("world"))
	l.close()
	seed, _ := os.ReadFile(filepath.Join(dir, walSegmentName(1)))
	f.Add(seed)
	f.Add(seed[:7])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, walSegmentName(1)), data, 0o644)
		os.WriteFile(filepath.Join(d, walSegmentName(1000)), nil, 0o644)
		l, err := openWAL(d) // the first segment is not the newest: damage is an error, never a panic
		if err != nil {
			return
		}
		for _, seq := range l.unallocated(0) {
			if _, err := l.read(seq); err != nil {
				t.Fatalf("indexed block %d unreadable: %v", seq, err)
			}
		}
	})
}

type plainStruct struct {
	Name  string
	Count int
	Tags  []string
}

type myString string

func roundTrip[T any](t *testing.T, c sliceCodec[T], vs []T) {
	t.Helper()
	if err := c.check(); err != nil {
		t.Fatalf("%T check: %v", c, err)
	}
	b, err := c.encode(vs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(got, vs) {
		t.Errorf("%T round trip = %v, want %v", c, got, vs)
	}
}

func TestCodecRoundTrips(t *testing.T) {
	roundTrip(t, codecFor[string](nil), []string{"", "a", "héllo"})
	roundTrip(t, codecFor[int](nil), []int{0, -1, 1 << 40})
	roundTrip(t, codecFor[int64](nil), []int64{-5, 7})
	roundTrip(t, codecFor[uint8](nil), []uint8{0, 255})
	roundTrip(t, codecFor[float64](nil), []float64{0.5, -1e300})
	roundTrip(t, codecFor[bool](nil), []bool{true, false})
	roundTrip(t, codecFor[myString](nil), []myString{"x", ""})
	roundTrip(t, codecFor[[]byte](nil), [][]byte{[]byte("ab"), {}})
	roundTrip(t, codecFor[struct{}](nil), []struct{}{{}, {}})
	roundTrip(t, codecFor[plainStruct](nil), []plainStruct{{"a", 1, []string{"x"}}, {"b", 2, nil}})
	roundTrip(t, codecFor[string](nil), nil)
	roundTrip(t, stateCodecFor[string, int](nil, nil), []stateRecord[string, int]{{"a", 1, 10}, {"b", -2, 20}})
	roundTrip(t, stateCodecFor[string, plainStruct](nil, nil), []stateRecord[string, plainStruct]{{"a", plainStruct{"n", 1, nil}, 10}})
	roundTrip(t, pairCodecFor[string, int](), []rdd.Pair[string, int]{rdd.KV("a", 1)})
	if _, ok := codecFor[string](nil).(valueSliceCodec[string]); !ok {
		t.Error("strings should use the built-in codec, not gob")
	}
	if _, ok := codecFor[plainStruct](nil).(gobSliceCodec[plainStruct]); !ok {
		t.Error("structs should use gob")
	}
}

func TestCodecRejectsUnencodable(t *testing.T) {
	type fn struct{ F func() }
	if err := codecFor[fn](nil).check(); err == nil || !strings.Contains(err.Error(), "Codec") {
		t.Errorf("check = %v, want an error suggesting a Codec", err)
	}
	type hidden struct{ x int }
	if err := codecFor[hidden](nil).check(); err == nil {
		t.Error("a struct without exported fields must be rejected")
	}
}

func FuzzCodecDecode(f *testing.F) {
	b, _ := stateCodecFor[string, int](nil, nil).encode([]stateRecord[string, int]{{"a", 1, 2}})
	f.Add(b)
	g, _ := codecFor[plainStruct](nil).encode([]plainStruct{{"a", 1, nil}})
	f.Add(g)
	f.Fuzz(func(t *testing.T, data []byte) {
		// Errors are fine; panics and unbounded allocation are not.
		stateCodecFor[string, int](nil, nil).decode(data)
		codecFor[plainStruct](nil).decode(data)
		codecFor[[]byte](nil).decode(data)
	})
}
