package state

import (
	"testing"
)

// FuzzDecodeDelta checks that any payload either decodes or gives a
// formatError, never panics, and that a decoded delta re-encodes to a
// payload that decodes to the same changes.
func FuzzDecodeDelta(f *testing.F) {
	f.Add(encodeDelta(3, map[string][]byte{"a": []byte("1"), "b": nil, "": {}}), int64(3))
	f.Add([]byte{1, 3, 0}, int64(3))
	f.Add([]byte{1, 3, 1, 2, 0}, int64(3))
	f.Fuzz(func(t *testing.T, payload []byte, version int64) {
		if version < 0 {
			return
		}
		changes := map[string][]byte{}
		err := decodeDelta(payload, version, func(k, v []byte) {
			if v == nil {
				changes[string(k)] = nil
			} else {
				changes[string(k)] = clone(v)
			}
		})
		if err != nil {
			if _, ok := err.(formatError); !ok {
				t.Fatalf("error %T %v is not a formatError", err, err)
			}
			return
		}
		again := map[string][]byte{}
		if err := decodeDelta(encodeDelta(version, changes), version, func(k, v []byte) {
			again[string(k)] = clone(v)
			if v == nil {
				again[string(k)] = nil
			}
		}); err != nil {
			t.Fatalf("re-encoded delta does not decode: %v", err)
		}
		if len(again) != len(changes) {
			t.Fatalf("re-encoded delta has %d changes, want %d", len(again), len(changes))
		}
		for k, v := range changes {
			w, ok := again[k]
			if !ok || (v == nil) != (w == nil) || string(v) != string(w) {
				t.Fatalf("key %q: %q after re-encoding, want %q", k, w, v)
			}
		}
	})
}

// FuzzDecodeSnapshot checks that any payload either decodes or gives a
// formatError, never panics.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(encodeSnapshot(5, map[string][]byte{"a": []byte("1"), "b": {}}), int64(5))
	f.Add([]byte{1, 5, 1, 1}, int64(5))
	f.Fuzz(func(t *testing.T, payload []byte, version int64) {
		if version < 0 {
			return
		}
		n := 0
		err := decodeSnapshot(payload, version, func(int) {}, func(k, v []byte) { n++ })
		if err != nil {
			if _, ok := err.(formatError); !ok {
				t.Fatalf("error %T %v is not a formatError", err, err)
			}
		}
	})
}
