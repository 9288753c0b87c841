package dstream

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"reflect"
)

// Codec encodes values of T for checkpoints (the state of stateful
// streams and inverse windows) and for the receiver write-ahead log.
//
// Without a codec, spate picks one: a fast binary codec when T is a
// string, []byte, bool, an integer or a float type (or, for the key-value
// state of stateful streams and windows, when keys and values are), and
// encoding/gob of whole partitions otherwise. Gob handles
// structs, slices and maps of such types but only their exported fields
// (unexported fields are silently left out, so a struct with none is an
// error); functions and channels cannot be encoded; an interface field
// needs its dynamic types registered with gob.Register. A type gob cannot
// encode makes [StreamingContext.Start] fail, not the first checkpoint.
// Gob costs roughly 0.3–1 µs per value; a hand-written codec that appends
// fixed-width fields is usually ten times faster.
type Codec[T any] interface {
	// Append appends the encoding of v to dst and returns the extended
	// slice.
	Append(dst []byte, v T) ([]byte, error)
	// Decode decodes one value from the front of src and returns it and
	// the number of bytes it took.
	Decode(src []byte) (v T, n int, err error)
}

// errShortCodecInput is returned by the built-in codecs for truncated input.
var errShortCodecInput = errors.New("dstream: codec: input too short")

// sliceCodec encodes whole partitions; it is what checkpoints use.
type sliceCodec[T any] interface {
	encode(vs []T) ([]byte, error)
	decode(b []byte) ([]T, error)
	// check reports early whether T can be encoded at all.
	check() error
}

// valueSliceCodec encodes a partition value by value with a Codec: a
// uvarint count, then the values.
type valueSliceCodec[T any] struct{ c Codec[T] }

func (s valueSliceCodec[T]) encode(vs []T) ([]byte, error) {
	b := binary.AppendUvarint(make([]byte, 0, 16*len(vs)+8), uint64(len(vs)))
	var err error
	for _, v := range vs {
		if b, err = s.c.Append(b, v); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (s valueSliceCodec[T]) decode(b []byte) ([]T, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errShortCodecInput
	}
	b = b[k:]
	// A corrupt count must not allocate without bound: values take at
	// least a byte, except empty ones.
	out := make([]T, 0, min(n, uint64(len(b))))
	for range n {
		v, used, err := s.c.Decode(b)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		b = b[used:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("dstream: codec: %d bytes left after the last value", len(b))
	}
	return out, nil
}

func (s valueSliceCodec[T]) check() error {
	var zero T
	_, err := s.c.Append(nil, zero)
	return err
}

// gobSliceCodec encodes a whole partition with encoding/gob.
type gobSliceCodec[T any] struct{}

func (gobSliceCodec[T]) encode(vs []T) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(vs); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (gobSliceCodec[T]) decode(b []byte) ([]T, error) {
	var vs []T
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&vs); err != nil {
		return nil, err
	}
	return vs, nil
}

func (gobSliceCodec[T]) check() error {
	// A one-element slice: gob checks the element type, which an empty
	// slice would not.
	_, err := gobSliceCodec[T]{}.encode(make([]T, 1))
	if err != nil {
		return fmt.Errorf("%w; give the type exported fields or supply a Codec", err)
	}
	return nil
}

// codecFor returns c as a slice codec, or the default for T when c is nil.
func codecFor[T any](c Codec[T]) sliceCodec[T] {
	if c != nil {
		return valueSliceCodec[T]{c}
	}
	if bc, ok := builtinCodec[T](); ok {
		return valueSliceCodec[T]{bc}
	}
	return gobSliceCodec[T]{}
}

// builtinCodec returns a binary codec for basic types.
func builtinCodec[T any]() (Codec[T], bool) {
	var c any
	switch reflect.TypeFor[T]().Kind() {
	case reflect.String:
		c = kindCodec[T]{appendString[T], decodeString[T]}
	case reflect.Bool:
		c = kindCodec[T]{func(b []byte, v T) []byte {
			if reflect.ValueOf(v).Bool() {
				return append(b, 1)
			}
			return append(b, 0)
		}, func(b []byte) (T, int, error) {
			var v T
			if len(b) < 1 {
				return v, 0, errShortCodecInput
			}
			reflect.ValueOf(&v).Elem().SetBool(b[0] != 0)
			return v, 1, nil
		}}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		c = kindCodec[T]{func(b []byte, v T) []byte { return binary.AppendVarint(b, reflect.ValueOf(v).Int()) },
			func(b []byte) (T, int, error) {
				var v T
				x, n := binary.Varint(b)
				if n <= 0 {
					return v, 0, errShortCodecInput
				}
				reflect.ValueOf(&v).Elem().SetInt(x)
				return v, n, nil
			}}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		c = kindCodec[T]{func(b []byte, v T) []byte { return binary.AppendUvarint(b, reflect.ValueOf(v).Uint()) },
			func(b []byte) (T, int, error) {
				var v T
				x, n := binary.Uvarint(b)
				if n <= 0 {
					return v, 0, errShortCodecInput
				}
				reflect.ValueOf(&v).Elem().SetUint(x)
				return v, n, nil
			}}
	case reflect.Float32, reflect.Float64:
		c = kindCodec[T]{func(b []byte, v T) []byte {
			return binary.BigEndian.AppendUint64(b, math.Float64bits(reflect.ValueOf(v).Float()))
		}, func(b []byte) (T, int, error) {
			var v T
			if len(b) < 8 {
				return v, 0, errShortCodecInput
			}
			reflect.ValueOf(&v).Elem().SetFloat(math.Float64frombits(binary.BigEndian.Uint64(b)))
			return v, 8, nil
		}}
	case reflect.Struct:
		if reflect.TypeFor[T]().NumField() == 0 {
			c = kindCodec[T]{func(b []byte, _ T) []byte { return b }, func([]byte) (T, int, error) { return *new(T), 0, nil }}
		}
	case reflect.Slice:
		if reflect.TypeFor[T]().Elem().Kind() == reflect.Uint8 {
			c = kindCodec[T]{appendString[T], decodeString[T]}
		}
	}
	// Exact types get reflection-free codecs: they are the common case.
	switch any(*new(T)).(type) {
	case string:
		c = StringCodec{}
	case int:
		c = IntCodec{}
	case int64:
		c = Int64Codec{}
	}
	if c == nil {
		return nil, false
	}
	return c.(Codec[T]), true
}

// kindCodec is a reflection-based codec for named basic types.
type kindCodec[T any] struct {
	app func([]byte, T) []byte
	dec func([]byte) (T, int, error)
}

func (k kindCodec[T]) Append(b []byte, v T) ([]byte, error) { return k.app(b, v), nil }
func (k kindCodec[T]) Decode(b []byte) (T, int, error)      { return k.dec(b) }

func appendString[T any](b []byte, v T) []byte {
	rv := reflect.ValueOf(v)
	var s []byte
	if rv.Kind() == reflect.String {
		s = []byte(rv.String())
	} else {
		s = rv.Bytes()
	}
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func decodeString[T any](b []byte) (T, int, error) {
	var v T
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return v, 0, errShortCodecInput
	}
	rv := reflect.ValueOf(&v).Elem()
	if rv.Kind() == reflect.String {
		rv.SetString(string(b[k : k+int(n)]))
	} else {
		rv.SetBytes(append(make([]byte, 0, n), b[k:k+int(n)]...))
	}
	return v, k + int(n), nil
}

// StringCodec encodes strings as a length and the bytes.
type StringCodec struct{}

// Append implements Codec.
func (StringCodec) Append(b []byte, v string) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...), nil
}

// Decode implements Codec.
func (StringCodec) Decode(b []byte) (string, int, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", 0, errShortCodecInput
	}
	return string(b[k : k+int(n)]), k + int(n), nil
}

// IntCodec encodes ints as varints.
type IntCodec struct{}

// Append implements Codec.
func (IntCodec) Append(b []byte, v int) ([]byte, error) { return binary.AppendVarint(b, int64(v)), nil }

// Decode implements Codec.
func (IntCodec) Decode(b []byte) (int, int, error) {
	x, n := binary.Varint(b)
	if n <= 0 {
		return 0, 0, errShortCodecInput
	}
	return int(x), n, nil
}

// Int64Codec encodes int64s as varints.
type Int64Codec struct{}

// Append implements Codec.
func (Int64Codec) Append(b []byte, v int64) ([]byte, error) { return binary.AppendVarint(b, v), nil }

// Decode implements Codec.
func (Int64Codec) Decode(b []byte) (int64, int, error) {
	x, n := binary.Varint(b)
	if n <= 0 {
		return 0, 0, errShortCodecInput
	}
	return x, n, nil
}

var (
	_ Codec[string] = StringCodec{}
	_ Codec[int]    = IntCodec{}
	_ Codec[int64]  = Int64Codec{}
)
