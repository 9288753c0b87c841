package state

import (
	"errors"
	"fmt"

	"github.com/spate-io/spate/checkpoint"
	"github.com/spate-io/spate/clock"
)

// DefaultSnapshotInterval is the number of versions between snapshots
// unless [SnapshotInterval] says otherwise.
const DefaultSnapshotInterval = 10

// DefaultRetain is the number of most recent versions that stay loadable
// unless [Retain] says otherwise.
const DefaultRetain = 100

// Option configures [NewProvider].
type Option func(*options)

type options struct {
	snapshotInterval int
	retain           int
	fs               checkpoint.FS
	clock            clock.Clock
}

// SnapshotInterval makes a partition write a snapshot (its whole state) in
// the background once k versions were committed since its last snapshot.
// Loading a version replays at most about k delta files. k must be at
// least 1. Default: 10.
func SnapshotInterval(k int) Option { return func(o *options) { o.snapshotInterval = k } }

// Retain sets how many of the most recent versions of each partition stay
// loadable; files needed only by older versions are removed after a
// snapshot. n must be at least 1. Default: 100.
func Retain(n int) Option { return func(o *options) { o.retain = n } }

// WithFS makes the provider read and write files through fsys, for instance
// to inject faults in tests. Default: [checkpoint.OSFS].
func WithFS(fsys checkpoint.FS) Option { return func(o *options) { o.fs = fsys } }

// WithClock sets the clock that times commits, loads and snapshots.
// Default: [clock.System].
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

func buildOptions(opts []Option) (options, error) {
	o := options{
		snapshotInterval: DefaultSnapshotInterval,
		retain:           DefaultRetain,
		fs:               checkpoint.OSFS{},
		clock:            clock.System(),
	}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.snapshotInterval < 1:
		return o, fmt.Errorf("state: SnapshotInterval(%d): must be at least 1", o.snapshotInterval)
	case o.retain < 1:
		return o, fmt.Errorf("state: Retain(%d): must be at least 1", o.retain)
	case o.fs == nil:
		return o, errors.New("state: WithFS(nil): file system must not be nil")
	case o.clock == nil:
		return o, errors.New("state: WithClock(nil): clock must not be nil")
	}
	return o, nil
}
