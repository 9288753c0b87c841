package ui_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/rdd"
	"github.com/spate-io/spate/ui"
)

// lineReceiver stores a few lines of words every tick of the real clock.
type lineReceiver struct {
	every   time.Duration
	perTick int
	stop    chan struct{}
	wg      sync.WaitGroup
}

func (r *lineReceiver) OnStart(h *dstream.ReceiverHandle[string]) error {
	r.stop = make(chan struct{})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		words := []string{"spate", "stream", "batch", "window", "state", "receiver", "shuffle", "stage"}
		ticker := time.NewTicker(r.every)
		defer ticker.Stop()
		for i := 0; ; i++ {
			select {
			case <-r.stop:
				return
			case <-ticker.C:
			}
			lines := make([]string, r.perTick)
			for j := range lines {
				lines[j] = words[(i+j)%len(words)] + " " + words[(i*j)%len(words)]
			}
			if err := h.StoreMany(lines); err != nil {
				if !errors.Is(err, dstream.ErrReceiverStopped) {
					h.ReportError("storing lines failed", err)
				}
				return
			}
		}
	}()
	return nil
}

func (r *lineReceiver) OnStop() {
	close(r.stop)
	r.wg.Wait()
}

// screenshotDir is where the browser test writes its screenshots:
// $SPATE_UI_SCREENSHOT_DIR if set (kept after the test), else a temporary
// directory of the test.
func screenshotDir(t *testing.T) string {
	if dir := os.Getenv("SPATE_UI_SCREENSHOT_DIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// TestBrowserStreamingPage runs a real streaming context (100ms batches on
// the system clock, a receiver, a word count with two output operations)
// with the UI as its service, opens the streaming page in headless
// Chromium, waits until the live-refreshed charts and table show at least
// five batches, takes a screenshot, and clicks through to a batch page.
func TestBrowserStreamingPage(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("SPATE_INTEGRATION") == "" {
			t.Skip("chromium is not on PATH (install it with: apt-get install -y chromium); " +
				"with SPATE_INTEGRATION=1 this is a failure")
		}
		t.Fatalf("SPATE_INTEGRATION is set but chromium is not on PATH (apt-get install -y chromium): %v", err)
	}

	ec, err := engine.New(engine.Slots(2), engine.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	srv, err := ui.New(ui.Addr("127.0.0.1:0"), ui.Logger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	ssc, err := dstream.NewStreamingContext(ec, 100*time.Millisecond, dstream.WithService(srv), dstream.BlockInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	lines := dstream.ReceiverStream(ssc, &lineReceiver{every: 5 * time.Millisecond, perTick: 20})
	counts := dstream.CountByValue(dstream.FlatMap(lines, strings.Fields))
	if err := counts.ForeachRDD(func(ctx context.Context, r *rdd.RDD[rdd.Pair[string, int]], _ time.Time) error {
		_, err := r.Collect(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := counts.Fprint(io.Discard, 3); err != nil {
		t.Fatal(err)
	}
	if err := ssc.Start(); err != nil {
		t.Fatal(err)
	}
	defer ssc.Stop(context.Background(), false)
	url := srv.URL()
	t.Logf("UI at %s", url)

	// One deadline for the whole browser session.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.WindowSize(1400, 1000))...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1400, 2000), chromedp.Navigate(url+"/")); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	// The live refresh must bring new batches into the charts and the
	// table without reloading the page: note how many batches the page was
	// served with and mark the window (a reload would drop the mark), then
	// wait for at least 5 batches and 3 more than at first.
	first, err := chromedp.Run(bctx, chromedp.Evaluate[int](
		`window.spateTestMark = true; Number(document.querySelector('#timeline-processing-time').dataset.points)`))
	if err != nil {
		t.Fatal(err)
	}
	ready := fmt.Sprintf(`(() => {
		const tl = document.querySelector('#timeline-processing-time');
		const n = tl ? Number(tl.dataset.points) : 0;
		return window.spateTestMark === true && n >= 5 && n >= %d &&
			tl.querySelectorAll('circle.dot').length >= 5 &&
			document.querySelectorAll('#histogram-processing-time rect.bar').length >= 1 &&
			document.querySelectorAll('#completed-batches tbody tr').length >= 5;
	})()`, first+3)
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](ready, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(0))); err != nil {
		t.Fatalf("waiting for the live refresh to show 5 batches (and 3 more than the %d the page was served with): %v", first, err)
	}
	points, err := chromedp.Run(bctx, chromedp.Evaluate[int](`Number(document.querySelector('#timeline-processing-time').dataset.points)`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("processing-time timeline: %d batches when the page loaded, %d after the live refresh", first, points)
	receivers, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#receivers tbody")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(receivers, "ReceiverStream-0") || !strings.Contains(receivers, "active") {
		t.Errorf("receivers table = %q, want ReceiverStream-0, active", receivers)
	}

	dir := screenshotDir(t)
	png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "streaming.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the streaming page: %s", shot)

	// Click the newest completed batch. The page is swapped every second,
	// and a swap can move the table between finding the link and the
	// click; try again then.
	onBatchPage := func() bool {
		loc, err := chromedp.Run(bctx, chromedp.Location())
		return err == nil && strings.Contains(loc, "/batch/")
	}
	for attempt := 1; attempt <= 3 && !onBatchPage(); attempt++ {
		actx, acancel := context.WithTimeout(bctx, 10*time.Second)
		err := chromedp.Do(actx,
			chromedp.Click(chromedp.CSS("#completed-batches tbody tr:first-child a.batch-link")),
			chromedp.WaitVisible(chromedp.ID("batch-summary")))
		acancel()
		if err != nil {
			t.Logf("attempt %d: the click did not open a batch page: %v", attempt, err)
		}
	}
	if !onBatchPage() {
		t.Fatal("clicking the first batch link did not open its batch page")
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.ID("batch-summary"))); err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("batch page: %s", loc)
	duration := regexp.MustCompile(`^\d+(\.\d+)? (µs|ms|s)$`)
	for _, id := range []string{"scheduling-delay", "processing-time", "total-delay"} {
		text, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID(id)))
		if err != nil {
			t.Fatal(err)
		}
		if !duration.MatchString(strings.TrimSpace(text)) {
			t.Errorf("batch page #%s = %q, want a duration", id, text)
		}
	}
	size, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("input-size")))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[\d,]+ records$`).MatchString(strings.TrimSpace(size)) {
		t.Errorf("batch page #input-size = %q", size)
	}
	ops, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('#output-ops tbody tr')).map(r => r.innerText)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || !strings.Contains(ops[0], "ForeachRDD") || !strings.Contains(ops[0], "succeeded") ||
		!strings.Contains(ops[1], "succeeded") {
		t.Errorf("output operation rows = %q, want 2 succeeded rows, the first a ForeachRDD", ops)
	}
	jobs, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#jobs tbody tr').length`))
	if err != nil {
		t.Fatal(err)
	}
	if jobs < 1 {
		t.Errorf("batch page lists %d jobs, want the output operations' jobs", jobs)
	}
	png, err = chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	shot = filepath.Join(dir, "batch.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the batch page: %s", shot)
}
