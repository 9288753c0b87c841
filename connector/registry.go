package connector

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Provider describes one connector to a Registry: its format name and its
// options. What it can build is found by type assertion on interfaces that
// the consuming layer defines (a DataFrame source factory, a DStream
// factory), as database/sql/driver does; a provider that implements none of
// them can still be listed and its options validated.
type Provider interface {
	// Name is the format name users pass (kafka, file, rate); matched
	// case-insensitively.
	Name() string
	// Spec returns the options the connector accepts.
	Spec() *Spec
}

// ErrUnknownConnector is returned by Registry.Lookup for an unregistered
// name; the error message lists the registered ones.
var ErrUnknownConnector = errors.New("connector: unknown connector")

// Registry maps format names to providers. It is a value filled explicitly
// by the program (no init-time registration); the zero value is empty and
// ready to use, and it is safe for concurrent use.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Provider
}

// NewRegistry returns a registry holding ps (see Register).
func NewRegistry(ps ...Provider) (*Registry, error) {
	r := &Registry{}
	for _, p := range ps {
		if err := r.Register(p); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds p. A second provider with the same name is an error.
func (r *Registry) Register(p Provider) error {
	if p == nil {
		return errors.New("connector: register: nil provider")
	}
	name := strings.ToLower(p.Name())
	if name == "" {
		return errors.New("connector: register: provider with an empty name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		return fmt.Errorf("connector: register: %q is already registered", p.Name())
	}
	if r.m == nil {
		r.m = make(map[string]Provider)
	}
	r.m[name] = p
	return nil
}

// Lookup returns the provider registered under name.
func (r *Registry) Lookup(name string) (Provider, error) {
	r.mu.RLock()
	p, ok := r.m[strings.ToLower(name)]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q; registered: %s", ErrUnknownConnector, name, strings.Join(r.Names(), ", "))
	}
	return p, nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for _, p := range r.m {
		out = append(out, p.Name())
	}
	slices.Sort(out)
	return out
}
