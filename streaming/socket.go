package streaming

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/expr"
)

// SocketSchema is the schema of the socket source: one line per row, and
// the time it was received.
var SocketSchema = arrow.NewSchema([]arrow.Field{
	{Name: "value", Type: arrow.BinaryTypes.String},
	{Name: "timestamp", Type: expr.TimestampType},
}, nil)

// SocketSource reads lines of text from a TCP server (Spark's "socket"
// source), for experiments. It is not fault tolerant: lines live in this
// process's memory only, so a restarted query cannot replay a batch it
// logged before (it fails saying so), and lines sent while no query runs
// are lost.
type SocketSource struct {
	addr  string
	alloc memory.Allocator
	now   func() time.Time

	conn net.Conn
	done chan struct{}

	mu    sync.Mutex
	lines []string
	times []int64
	err   error // why reading stopped
}

var socketPartition = connector.Partition{Stream: "socket"}

// NewSocketSource connects to host:port and starts reading lines.
func NewSocketSource(ctx context.Context, host string, port int, alloc memory.Allocator, now func() time.Time) (*SocketSource, error) {
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	if now == nil {
		now = time.Now
	}
	addr := net.JoinHostPort(host, fmt.Sprint(port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("streaming: socket source: %w", err)
	}
	s := &SocketSource{addr: addr, alloc: alloc, now: now, conn: conn, done: make(chan struct{})}
	go s.read()
	return s, nil
}

func (s *SocketSource) read() {
	defer close(s.done)
	sc := bufio.NewScanner(s.conn)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		s.mu.Lock()
		s.lines = append(s.lines, sc.Text())
		s.times = append(s.times, s.now().UnixMicro())
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.err = sc.Err()
	s.mu.Unlock()
}

// Schema implements Source.
func (s *SocketSource) Schema() *arrow.Schema { return SocketSchema }

// Name implements Source.
func (s *SocketSource) Name() string { return "TextSocketSource[" + s.addr + "]" }

// InitialOffsets implements connector.OffsetSource.
func (s *SocketSource) InitialOffsets(context.Context) (connector.Offsets, error) {
	return connector.Offsets{socketPartition: 0}, nil
}

// LatestOffsets implements connector.OffsetSource: the lines received.
func (s *SocketSource) LatestOffsets(context.Context) (connector.Offsets, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return connector.Offsets{socketPartition: int64(len(s.lines))}, nil
}

// EarliestOffsets implements connector.OffsetSource.
func (s *SocketSource) EarliestOffsets(_ context.Context, parts []connector.Partition) (connector.Offsets, error) {
	o := connector.Offsets{}
	for _, p := range parts {
		o[p] = 0
	}
	return o, nil
}

// Read implements connector.Source.
func (s *SocketSource) Read(ctx context.Context, r connector.OffsetRange, emit func([]arrow.RecordBatch) error) error {
	s.mu.Lock()
	if r.Until > int64(len(s.lines)) {
		n := len(s.lines)
		s.mu.Unlock()
		return fmt.Errorf("streaming: the socket source cannot replay lines %d..%d: it holds %d lines of this process (it is not fault tolerant; start the query from a new checkpoint location)", r.From, r.Until, n)
	}
	lines, times := s.lines[r.From:r.Until], s.times[r.From:r.Until]
	s.mu.Unlock()
	vb := array.NewStringBuilder(s.alloc)
	tb := array.NewTimestampBuilder(s.alloc, expr.TimestampType)
	defer vb.Release()
	defer tb.Release()
	vb.AppendValues(lines, nil)
	for _, t := range times {
		tb.Append(arrow.Timestamp(t))
	}
	va, ta := vb.NewArray(), tb.NewArray()
	b := array.NewRecordBatch(SocketSchema, []arrow.Array{va, ta}, int64(len(lines)))
	va.Release()
	ta.Release()
	if err := ctx.Err(); err != nil {
		b.Release()
		return err
	}
	return emit([]arrow.RecordBatch{b})
}

// Close implements connector.OffsetSource: it closes the connection.
func (s *SocketSource) Close() error {
	err := s.conn.Close()
	<-s.done
	return err
}

var _ Source = (*SocketSource)(nil)
