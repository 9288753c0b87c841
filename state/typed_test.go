package state

import (
	"maps"
	"testing"
)

func TestTyped(t *testing.T) {
	ctx := testCtx(t)
	root := t.TempDir()
	pt := partition(t, newProvider(t, root, 1), "counts", 0)
	s, err := pt.Load(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts := NewTyped(s, StringCodec{}, Int64Codec{})
	for _, w := range []string{"a", "b", "a", "c", "a"} {
		n, _, err := ts.Get(w)
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.Put(w, n+1); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.Delete("c"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store().Commit(ctx); err != nil {
		t.Fatal(err)
	}
	s, _ = partition(t, newProvider(t, root, 1), "counts", 0).Load(ctx, 1)
	ts = NewTyped(s, StringCodec{}, Int64Codec{})
	got := maps.Collect(ts.All())
	if want := map[string]int64{"a": 3, "b": 1}; !maps.Equal(got, want) || ts.Err() != nil {
		t.Fatalf("All = %v, %v; want %v", got, ts.Err(), want)
	}
	// A value that does not decode.
	s.Put([]byte("bad"), []byte("xyz"))
	if _, _, err := ts.Get("bad"); err == nil {
		t.Fatal("Get of an undecodable value: no error")
	}
	for range ts.All() {
	}
	if ts.Err() == nil {
		t.Fatal("All over an undecodable value: no error")
	}
	s.Abort()
}
