package dstream_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// rtListen starts a TCP server on a free loopback port; the listener is
// closed when the test ends.
func rtListen(t *testing.T) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// rtAccept accepts one connection in the background; the channel gets it.
// The connection is closed when the test ends.
func rtAccept(t *testing.T, ln net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(ch)
			return
		}
		ch <- c
	}()
	t.Cleanup(func() {
		select {
		case c, ok := <-ch:
			if ok {
				c.Close()
			}
		default:
		}
	})
	return ch
}

// rtConn waits for the connection rtAccept accepts and closes it when the
// test ends (which also keeps it reachable: a lost net.Conn is closed by
// its finalizer, and the receiver would see the server hang up).
func rtConn(t *testing.T, conns <-chan net.Conn, what string) net.Conn {
	t.Helper()
	c := rtRecv(t, conns, what)
	if c == nil { // the channel was closed: Accept failed
		t.Fatalf("%s: accept failed", what)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rtWrite writes s to c and fails the test on an error.
func rtWrite(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatalf("server write: %v", err)
	}
}

// rtUntilCollected advances the clock one batch interval at a time,
// waiting for each batch, until out has seen want elements (or fails the
// test after rtTimeout). Lines travel over a real socket, so the batch
// they land in is not known in advance. It returns the next batch time.
func rtUntilCollected(t *testing.T, m *clock.Manual, rec *rtRecorder, out *rtBatches[string], next time.Time, want int) time.Time {
	t.Helper()
	deadline := time.Now().Add(rtTimeout)
	for len(out.all()) < want {
		if time.Now().After(deadline) {
			t.Fatalf("after %v, got %q, want %d lines", rtTimeout, out.all(), want)
		}
		m.Advance(time.Second)
		rec.waitBatch(t, next)
		next = next.Add(time.Second)
	}
	return next
}

func TestSocketTextStreamReadsLines(t *testing.T) {
	ln, port := rtListen(t)
	conns := rtAccept(t, ln)
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	out := rtCollect(t, dstream.SocketTextStream(ssc, "127.0.0.1", port))
	rtStart(t, ssc)

	c := rtConn(t, conns, "the receiver to connect")
	rtWrite(t, c, "first line\nwindows line\r\n\nlast")
	rtWrite(t, c, " line\ncr kept\r\r\n")
	next := rtUntilCollected(t, m, rec, out, rtAt(time.Second), 5)
	want := []string{"first line", "windows line", "", "last line", "cr kept\r"}
	if got := out.all(); !slices.Equal(got, want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}

	// The connection stays open: more lines come in later batches.
	rtWrite(t, c, "again\r\n")
	rtUntilCollected(t, m, rec, out, next, 6)
	if got := out.all(); !slices.Equal(got, append(want, "again")) {
		t.Fatalf("lines = %q, want %q", got, append(want, "again"))
	}
	if n := rec.count(rtIs[metrics.ReceiverError]); n != 0 {
		t.Errorf("%d ReceiverError events on a healthy connection, want 0:\n%s", n, rtFormat(rec.all()))
	}
	var records int64
	for _, e := range rec.all() {
		if b, ok := e.(metrics.BatchCompleted); ok {
			records += b.Info.NumRecords()
		}
	}
	if records != 6 {
		t.Errorf("input records over all batches = %d, want 6", records)
	}
}

func TestSocketTextStreamLongLine(t *testing.T) {
	ln, port := rtListen(t)
	conns := rtAccept(t, ln)
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	out := rtCollect(t, dstream.SocketTextStream(ssc, "127.0.0.1", port))
	rtStart(t, ssc)
	c := rtConn(t, conns, "the receiver to connect")
	long := strings.Repeat("x", 1<<20) // beyond bufio.Scanner's default 64 KiB
	rtWrite(t, c, long+"\nshort\n")
	rtUntilCollected(t, m, rec, out, rtAt(time.Second), 2)
	got := out.all()
	if len(got) != 2 || got[0] != long || got[1] != "short" {
		t.Fatalf("got %d lines (first %d bytes), want the 1 MiB line and \"short\"", len(got), len(got[0]))
	}
}

func TestSocketTextStreamReconnects(t *testing.T) {
	ln, port := rtListen(t)
	conns := rtAccept(t, ln)
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	out := rtCollect(t, dstream.SocketTextStream(ssc, "127.0.0.1", port))
	rtStart(t, ssc)

	c1 := rtConn(t, conns, "the first connection")
	second := rtAccept(t, ln)
	rtWrite(t, c1, "a\nb\n")
	c1.Close()

	// Reading ended: reported (after the lines read were stored), and the
	// receiver reconnects after a backoff on the context's clock, so that
	// a server that accepts and closes at once is not hammered.
	e := rec.waitError(t, 1)
	if e.Err == nil || !strings.Contains(e.Err.Error(), "connection closed") || !strings.Contains(e.Message, "127.0.0.1") {
		t.Errorf("ReceiverError = %+v, want a closed connection to 127.0.0.1 reported", e)
	}
	rtWaiters(t, m, 2) // the generator's timer and the backoff
	m.Advance(100 * time.Millisecond)
	c2 := rtConn(t, second, "the receiver to reconnect")
	rtWrite(t, c2, "c\n")
	rtUntilCollected(t, m, rec, out, rtAt(time.Second), 3)
	if got := out.all(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("lines = %q, want [a b c]", got)
	}
	if got := ssc.State(); got != dstream.Active {
		t.Errorf("State() = %v, want active", got)
	}
	// The receiver itself never stopped: reconnecting is its own business.
	if n := rec.count(rtIs[metrics.ReceiverStopped]); n != 0 {
		t.Errorf("%d ReceiverStopped events, want 0", n)
	}
}

func TestSocketTextStreamServerClosingAtOnce(t *testing.T) {
	// A server that accepts and closes every connection at once gets one
	// connection per backoff period of the context's clock, not a flood.
	ln, port := rtListen(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	rtCollect(t, dstream.SocketTextStream(ssc, "127.0.0.1", port))
	rtStart(t, ssc)
	for n := 1; n <= 3; n++ {
		e := rec.waitError(t, n)
		if e.Err == nil || !strings.Contains(e.Err.Error(), "connection closed") {
			t.Fatalf("ReceiverError #%d = %+v, want a closed connection", n, e)
		}
		rtWaiters(t, m, 2) // the generator's timer and the backoff
		if err := ssc.Engine().Bus().Flush(rtCtx(t)); err != nil {
			t.Fatal(err)
		}
		if got := rec.count(rtIs[metrics.ReceiverError]); got != n {
			t.Fatalf("%d ReceiverError events before the clock moved %d backoff periods, want %d", got, n-1, n)
		}
		m.Advance(100 * time.Millisecond)
	}
	if got := ssc.State(); got != dstream.Active {
		t.Errorf("State() = %v, want active", got)
	}
}

func TestSocketTextStreamNothingListening(t *testing.T) {
	ln, port := rtListen(t)
	ln.Close() // the port is now (very probably) free
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	out := rtCollect(t, dstream.SocketTextStream(ssc, "127.0.0.1", port))
	rtStart(t, ssc)

	e := rec.waitError(t, 1)
	if !strings.Contains(e.Message, "connecting to 127.0.0.1") || e.Err == nil {
		t.Errorf("ReceiverError = %+v, want a failed connection reported", e)
	}
	// Retried with backoff on the context's clock: 100ms, then 200ms.
	rtWaiters(t, m, 2) // the generator's timer and the backoff
	m.Advance(100 * time.Millisecond)
	rec.waitError(t, 2)
	rtWaiters(t, m, 2)
	m.Advance(200 * time.Millisecond)
	rec.waitError(t, 3)

	// Not fatal: batches go on, empty.
	m.Advance(700 * time.Millisecond)
	rec.waitBatch(t, rtAt(time.Second))
	rtWant(t, out, rtAt(time.Second))
	if got := ssc.State(); got != dstream.Active {
		t.Errorf("State() = %v, want active", got)
	}
	if err := rtRecv(t, rtStopAsync(rtCtx(t), ssc, false), "Stop"); err != nil {
		t.Errorf("Stop = %v", err)
	}
}

func TestSocketTextStreamBadPort(t *testing.T) {
	for _, port := range []int{0, -1, 70000} {
		ssc, _ := rtNewContext(t, time.Second)
		s := dstream.SocketTextStream(ssc, "localhost", port)
		want := "SocketTextStream: port must be in 1..65535, got " + strconv.Itoa(port)
		if err := s.Err(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("port %d: Err() = %v, want %q", port, err, want)
		}
		err := s.ForeachRDD(func(context.Context, *rdd.RDD[string], time.Time) error { return nil })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("port %d: ForeachRDD = %v, want %q", port, err, want)
		}
		if err := dstream.Map(s, strings.ToUpper).Print(1); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("port %d: Print of a derived stream = %v, want %q", port, err, want)
		}
		// Nothing could be registered, so there is nothing to start.
		if err := ssc.Start(); err == nil {
			t.Errorf("port %d: Start = nil, want an error", port)
		}
	}
}
