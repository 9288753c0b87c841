package clock_test

import (
	"context"
	"fmt"
	"time"

	"github.com/spate-io/spate/clock"
)

// pollEvery is "code under test": it takes a Clock and does work on every
// tick until the context is cancelled.
func pollEvery(ctx context.Context, clk clock.Clock, d time.Duration, polled chan<- time.Time) {
	tk := clk.NewTicker(d)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-tk.C():
			polled <- t
		}
	}
}

func ExampleManual() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	clk := clock.NewManual(time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC))
	polled := make(chan time.Time)
	go pollEvery(ctx, clk, 10*time.Second, polled)

	// Wait until the poller has created its ticker; no sleeping.
	if err := clk.BlockUntil(ctx, 1); err != nil {
		panic(err)
	}

	for range 3 {
		clk.Advance(10 * time.Second)
		fmt.Println("polled at", (<-polled).Format(time.TimeOnly))
	}
	fmt.Println("elapsed:", clk.Since(time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)))

	// Output:
	// polled at 12:00:10
	// polled at 12:00:20
	// polled at 12:00:30
	// elapsed: 30s
}
