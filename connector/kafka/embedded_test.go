package kafka

import "testing"

func TestEmbedded(t *testing.T) {
	e, err := NewEmbedded(2, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := testCtx(t)
	if err := e.CreateTopic(ctx, "b", 3); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateTopic(ctx, "b", 3); err == nil {
		t.Fatal("duplicate topic created")
	}
	s := newSource(t, e.Addrs(), SubscribePattern(".*"))
	got, err := s.LatestOffsets(ctx)
	if err != nil || len(got) != 5 {
		t.Fatal(got, err)
	}
	if _, err := NewEmbedded(0, "x"); err == nil {
		t.Fatal("0 partitions accepted")
	}
}
