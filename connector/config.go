package connector

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OptionSpec describes one configuration key of a connector.
type OptionSpec struct {
	// Name is the key as documented ("kafka.bootstrap.servers").
	// Keys match case-insensitively.
	Name string
	// Default is the value used when the key is absent ("" for none).
	Default string
	// Doc is a one-line description for the options table.
	Doc string
	// Required makes Validate fail when the key is absent.
	Required bool
	// Validate checks a value (explicit or default); nil accepts anything.
	Validate func(value string) error
}

// Spec is the set of options one connector accepts.
type Spec struct {
	// Connector names the connector in error messages ("kafka").
	Connector string
	// Options lists the accepted keys in documentation order.
	Options []OptionSpec
}

// Sentinels for option errors; an *OptionError wraps one of them.
var (
	ErrUnknownOption = errors.New("connector: unknown option")
	ErrMissingOption = errors.New("connector: missing required option")
	ErrInvalidOption = errors.New("connector: invalid option value")
)

// OptionError reports a bad option: the key, the value, why, and the keys
// the connector supports (for unknown keys).
type OptionError struct {
	Connector string
	Key       string
	Value     string
	// Kind is ErrUnknownOption, ErrMissingOption or ErrInvalidOption.
	Kind error
	// Err is the validator's error for ErrInvalidOption.
	Err error
	// Supported lists the accepted keys (filled for unknown keys; for an
	// unknown key with a prefix such as "kafka.", only keys with that prefix).
	Supported []string
}

// Error names the connector, the key, and what to change.
func (e *OptionError) Error() string {
	switch {
	case errors.Is(e.Kind, ErrUnknownOption):
		return fmt.Sprintf("%s: unknown option %q; supported: %s", e.Connector, e.Key, strings.Join(e.Supported, ", "))
	case errors.Is(e.Kind, ErrMissingOption):
		return fmt.Sprintf("%s: option %q is required", e.Connector, e.Key)
	default:
		return fmt.Sprintf("%s: option %q = %q: %v", e.Connector, e.Key, e.Value, e.Err)
	}
}

// Unwrap returns the kind sentinel and the validator's error.
func (e *OptionError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// Lookup returns the spec of key (case-insensitive).
func (s *Spec) Lookup(key string) (OptionSpec, bool) {
	for _, o := range s.Options {
		if strings.EqualFold(o.Name, key) {
			return o, true
		}
	}
	return OptionSpec{}, false
}

// Names returns the documented keys in order.
func (s *Spec) Names() []string {
	out := make([]string, len(s.Options))
	for i, o := range s.Options {
		out[i] = o.Name
	}
	return out
}

// Validate checks opts against the spec and returns the resolved values:
// keys in their documented spelling, defaults filled in. It returns the first
// error in key order (an *OptionError); an unknown key that shares a dotted
// prefix with known keys ("kafka.x") lists only the keys with that prefix.
func (s *Spec) Validate(opts map[string]string) (Values, error) {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(Values, len(s.Options))
	for _, k := range keys {
		o, ok := s.Lookup(k)
		if !ok {
			return nil, &OptionError{Connector: s.Connector, Key: k, Value: opts[k], Kind: ErrUnknownOption, Supported: s.supported(k)}
		}
		out[o.Name] = opts[k]
	}
	for _, o := range s.Options {
		v, ok := out[o.Name]
		if !ok {
			if o.Required {
				return nil, &OptionError{Connector: s.Connector, Key: o.Name, Kind: ErrMissingOption}
			}
			if o.Default == "" {
				continue
			}
			v = o.Default
			out[o.Name] = v
		}
		if o.Validate != nil {
			if err := o.Validate(v); err != nil {
				return nil, &OptionError{Connector: s.Connector, Key: o.Name, Value: v, Kind: ErrInvalidOption, Err: err}
			}
		}
	}
	return out, nil
}

func (s *Spec) supported(key string) []string {
	names := s.Names()
	if i := strings.IndexByte(key, '.'); i > 0 {
		prefix := strings.ToLower(key[:i+1])
		var same []string
		for _, n := range names {
			if strings.HasPrefix(strings.ToLower(n), prefix) {
				same = append(same, n)
			}
		}
		if len(same) > 0 {
			return same
		}
	}
	return names
}

// Markdown renders the spec as a Markdown table (key, meaning, default), for
// package documentation and the README.
func (s *Spec) Markdown() string {
	var b strings.Builder
	b.WriteString("| option | meaning | default |\n|---|---|---|\n")
	for _, o := range s.Options {
		def := o.Default
		switch {
		case o.Required:
			def = "required"
		case def == "":
			def = "none"
		default:
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", o.Name, strings.ReplaceAll(o.Doc, "|", `\|`), def)
	}
	return b.String()
}

// Values holds validated options keyed by their documented name. Getters
// parse values that Validate already checked; they return the zero value for
// absent keys.
type Values map[string]string

// Has reports whether key is set (explicitly or by default).
func (v Values) Has(key string) bool { _, ok := v[key]; return ok }

// String returns the value of key.
func (v Values) String(key string) string { return v[key] }

// Int64 returns the value of key as an integer.
func (v Values) Int64(key string) int64 {
	n, _ := strconv.ParseInt(v[key], 10, 64)
	return n
}

// Float returns the value of key as a float.
func (v Values) Float(key string) float64 {
	f, _ := strconv.ParseFloat(v[key], 64)
	return f
}

// Bool returns the value of key as a boolean.
func (v Values) Bool(key string) bool {
	b, _ := strconv.ParseBool(v[key])
	return b
}

// Duration returns the value of key parsed by ParseDuration.
func (v Values) Duration(key string) time.Duration {
	d, _ := ParseDuration(v[key])
	return d
}

// Millis returns the value of key, an integer count of milliseconds.
func (v Values) Millis(key string) time.Duration {
	return time.Duration(v.Int64(key)) * time.Millisecond
}

// IsBool validates "true" or "false" (any case).
func IsBool(s string) error {
	switch strings.ToLower(s) {
	case "true", "false":
		return nil
	}
	return errors.New("want true or false")
}

// IntRange returns a validator accepting integers in [lo, hi].
func IntRange(lo, hi int64) func(string) error {
	return func(s string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer in [%d, %d]", lo, hi)
		}
		if n < lo || n > hi {
			return fmt.Errorf("%d is outside [%d, %d]", n, lo, hi)
		}
		return nil
	}
}

// FloatMin returns a validator accepting numbers >= lo.
func FloatMin(lo float64) func(string) error {
	return func(s string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || f < lo {
			return fmt.Errorf("want a number >= %g", lo)
		}
		return nil
	}
}

// OneOf returns a validator accepting one of choices (case-insensitive).
func OneOf(choices ...string) func(string) error {
	return func(s string) error {
		for _, c := range choices {
			if strings.EqualFold(s, c) {
				return nil
			}
		}
		return fmt.Errorf("want one of %s", strings.Join(choices, ", "))
	}
}

// IsDuration validates a duration accepted by ParseDuration.
func IsDuration(s string) error {
	_, err := ParseDuration(s)
	return err
}

// IsRegexp validates a Go regular expression.
func IsRegexp(s string) error {
	_, err := regexp.Compile(s)
	return err
}

// ParseDuration parses a Go duration ("1.5s", "100ms") or a Spark-style
// "<n> <unit>" ("10 seconds", "5 minutes"); a bare integer means
// milliseconds. Negative durations are rejected.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("negative duration %q", s)
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("negative duration %q", s)
		}
		return d, nil
	}
	num, unit, ok := strings.Cut(s, " ")
	if ok {
		n, err := strconv.ParseFloat(num, 64)
		if err == nil && n >= 0 {
			units := map[string]time.Duration{
				"ms": time.Millisecond, "millisecond": time.Millisecond, "milliseconds": time.Millisecond,
				"s": time.Second, "second": time.Second, "seconds": time.Second,
				"m": time.Minute, "minute": time.Minute, "minutes": time.Minute,
				"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
			}
			if u, ok := units[strings.ToLower(strings.TrimSpace(unit))]; ok {
				return time.Duration(n * float64(u)), nil
			}
		}
	}
	return 0, fmt.Errorf("want a duration such as 500ms, 10s or \"10 seconds\", got %q", s)
}
