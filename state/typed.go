package state

import (
	"encoding/binary"
	"fmt"
	"iter"
)

// Codec converts values of type T to and from bytes for a [Typed] store.
// Decode must accept every encoding Append produces; Append must be
// deterministic for keys (equal keys, equal bytes).
type Codec[T any] interface {
	// Append appends the encoding of v to dst and returns the extended
	// slice.
	Append(dst []byte, v T) []byte
	// Decode decodes one value from b, which it must not retain.
	Decode(b []byte) (T, error)
}

// StringCodec encodes a string as its bytes.
type StringCodec struct{}

// Append appends s.
func (StringCodec) Append(dst []byte, s string) []byte { return append(dst, s...) }

// Decode returns b as a string.
func (StringCodec) Decode(b []byte) (string, error) { return string(b), nil }

// Int64Codec encodes an int64 as 8 big-endian bytes.
type Int64Codec struct{}

// Append appends the 8 bytes of v.
func (Int64Codec) Append(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v))
}

// Decode decodes 8 bytes.
func (Int64Codec) Decode(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("state: Int64Codec: %d bytes, want 8", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// Typed is a [Store] seen through codecs for its keys and values. It adds
// an encoding per call and nothing else: the store holds bytes, and the
// same rules (one goroutine, Commit or Abort at the end) apply.
type Typed[K, V any] struct {
	s    *Store
	keys Codec[K]
	vals Codec[V]
	kbuf []byte
	vbuf []byte
	err  error
}

// NewTyped returns a typed view of s.
func NewTyped[K, V any](s *Store, keys Codec[K], vals Codec[V]) *Typed[K, V] {
	return &Typed[K, V]{s: s, keys: keys, vals: vals}
}

// Store returns the underlying store, for Commit and Abort.
func (t *Typed[K, V]) Store() *Store { return t.s }

// Get returns the value of k, whether it is present, and a decoding error.
func (t *Typed[K, V]) Get(k K) (V, bool, error) {
	t.kbuf = t.keys.Append(t.kbuf[:0], k)
	b, ok := t.s.Get(t.kbuf)
	if !ok {
		var zero V
		return zero, false, nil
	}
	v, err := t.vals.Decode(b)
	if err != nil {
		return v, true, fmt.Errorf("state: decode value of key %v: %w", k, err)
	}
	return v, true, nil
}

// Put sets the value of k.
func (t *Typed[K, V]) Put(k K, v V) error {
	t.kbuf = t.keys.Append(t.kbuf[:0], k)
	t.vbuf = t.vals.Append(t.vbuf[:0], v)
	return t.s.Put(t.kbuf, t.vbuf)
}

// Delete removes k.
func (t *Typed[K, V]) Delete(k K) error {
	t.kbuf = t.keys.Append(t.kbuf[:0], k)
	return t.s.Delete(t.kbuf)
}

// All iterates over every entry as [Store.All] does. It stops at the first
// entry that does not decode; [Typed.Err] then returns the error.
func (t *Typed[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		t.err = nil
		for kb, vb := range t.s.All() {
			k, err := t.keys.Decode(kb)
			if err != nil {
				t.err = fmt.Errorf("state: decode key %q: %w", kb, err)
				return
			}
			v, err := t.vals.Decode(vb)
			if err != nil {
				t.err = fmt.Errorf("state: decode value of key %v: %w", k, err)
				return
			}
			if !yield(k, v) {
				return
			}
		}
	}
}

// Err returns the decoding error that stopped the last iteration of
// [Typed.All], or nil.
func (t *Typed[K, V]) Err() error { return t.err }
