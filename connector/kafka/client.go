package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (c *config) validateCommon() error {
	if len(c.brokers) == 0 {
		return fmt.Errorf("%w: Brokers (kafka.bootstrap.servers) is required", ErrConfig)
	}
	if c.apiTimeout <= 0 {
		return fmt.Errorf("%w: APITimeout must be > 0, got %v", ErrConfig, c.apiTimeout)
	}
	return nil
}

// clientOpts returns the franz-go options shared by sources and sinks.
func (c *config) clientOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.brokers...),
		kgo.ClientID(c.clientID),
		// Each call is bounded by the API timeout through its context;
		// retries inside that budget are franz-go's business.
		kgo.RetryTimeout(c.apiTimeout),
		// franz-go's dial does not follow the request context; bound it
		// by the API timeout too (kafka.socket.connection.setup.timeout.ms
		// overrides it).
		kgo.DialTimeout(min(c.apiTimeout, 10*time.Second)),
	}
	if c.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(c.tls.Clone()))
	}
	if c.sasl != nil {
		opts = append(opts, kgo.SASL(c.sasl))
	}
	return opts
}

// withTimeout bounds ctx by the API timeout.
func (c *config) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.apiTimeout)
}

// wrapUnavailable turns a timeout of our own API budget (not the caller's
// cancellation) into ErrUnavailable naming the brokers.
func (c *config) wrapUnavailable(parent context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if parent.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: no answer from %s within %v: %w", ErrUnavailable, op, strings.Join(c.brokers, ","), c.apiTimeout, err)
	}
	if parent.Err() == nil && isConnErr(err) {
		return fmt.Errorf("%w: %s: connection to %s failed (check the addresses, TLS and SASL settings): %w", ErrUnavailable, op, strings.Join(c.brokers, ","), err)
	}
	return fmt.Errorf("kafka: %s: %w", op, err)
}

// isConnErr reports errors of the connection rather than of the request.
func isConnErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || kgo.IsRetryableBrokerErr(err) ||
		strings.Contains(err.Error(), "unable to dial")
}

// ping checks that the cluster answers a metadata request within the API
// timeout.
func (c *config) ping(ctx context.Context, cl *kgo.Client) error {
	tctx, cancel := c.withTimeout(ctx)
	defer cancel()
	err := bounded(tctx, func(ctx context.Context) error {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{}
		_, err := req.RequestWith(ctx, cl)
		return err
	})
	return c.wrapUnavailable(ctx, "connect", err)
}

// bounded runs fn and returns when it does or when ctx ends, whichever is
// first. franz-go bounds a connection's handshake by its own timeouts, not
// by the request context; this keeps our API timeout exact. fn keeps running
// in the background until franz-go gives up or the client is closed.
func bounded(ctx context.Context, fn func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// boundedV is bounded for calls that return a value.
func boundedV[T any](ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	var v T
	err := bounded(ctx, func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}
