package dstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// SocketTextStream returns a stream of the lines (without "\n" or
// "\r\n") read from a TCP server at host:port, as Spark's
// socketTextStream. The receiver connects, reads lines until the
// connection ends, and reconnects; failures to connect or read are
// reported as metrics.ReceiverError events and retried with exponential
// backoff (100ms doubling to 10s, on the context's clock), never fatal.
// A socket is not replayable: lines received but not yet processed are
// lost if the process dies.
func SocketTextStream(ssc *StreamingContext, host string, port int) *DStream[string] {
	if port < 1 || port > 65535 {
		return newStream[string](ssc, "SocketTextStream", intervalOf(ssc), nil, nil, fmt.Errorf("port must be in 1..65535, got %d", port))
	}
	return receiverStreamNamed[string](ssc, "SocketTextStream", &socketReceiver{addr: net.JoinHostPort(host, strconv.Itoa(port))})
}

// Socket receiver backoff bounds.
const (
	socketBackoffMin = 100 * time.Millisecond
	socketBackoffMax = 10 * time.Second
)

type socketReceiver struct {
	addr   string
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (r *socketReceiver) OnStart(h *ReceiverHandle[string]) error {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.receive(ctx, h)
	}()
	return nil
}

func (r *socketReceiver) OnStop() {
	r.cancel()
	r.wg.Wait()
}

func (r *socketReceiver) receive(ctx context.Context, h *ReceiverHandle[string]) {
	clk := h.sup.ssc.clock
	backoff := socketBackoffMin
	var d net.Dialer
	for ctx.Err() == nil {
		conn, err := d.DialContext(ctx, "tcp", r.addr)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			h.ReportError(fmt.Sprintf("connecting to %s failed; retrying in %v", r.addr, backoff), err)
			if clk.Sleep(ctx, backoff) != nil {
				return
			}
			backoff = min(2*backoff, socketBackoffMax)
			continue
		}
		backoff = socketBackoffMin
		err = readLines(ctx, conn, h)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("connection closed by the server")
		}
		h.ReportError(fmt.Sprintf("reading from %s stopped; reconnecting in %v", r.addr, backoff), err)
		if clk.Sleep(ctx, backoff) != nil {
			return
		}
		backoff = min(2*backoff, socketBackoffMax)
	}
}

// readLines stores the lines read from conn until it ends or ctx is done.
func readLines(ctx context.Context, conn net.Conn, h *ReceiverHandle[string]) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		// bufio.ScanLines already drops the "\r" of a "\r\n".
		if err := h.Store(sc.Text()); err != nil {
			return err
		}
	}
	return sc.Err()
}
