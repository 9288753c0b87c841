package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/expr"
)

// MergeSessions gives every row the bounds of the session window it
// belongs to. Each row stands for the interval [Start, End) of its two
// timestamp columns (a single event: [ts, ts + gap); a session kept in
// streaming state: its bounds). Rows with equal Keys whose intervals
// overlap, directly or through other rows, form one session, which runs
// from their smallest Start to their largest End; the output is the
// input with Start and End replaced by the session's bounds, so that an
// Aggregate grouped by Keys, Start and End computes per session. Intervals
// that only touch (one ends where the next starts) are separate sessions,
// since the intervals are half-open. A row with a null Start or End keeps
// its own, null, bounds.
type MergeSessions struct {
	Keys       []string
	Start, End string
	Child      Node
}

// NewMergeSessions returns child with session bounds in start and end
// (timestamp columns), per distinct value of keys.
func NewMergeSessions(child Node, keys []string, start, end string) (*MergeSessions, error) {
	if child == nil {
		return nil, wrap("MergeSessions", errors.New("nil child"))
	}
	s := child.Schema()
	for _, k := range keys {
		if _, err := expr.FieldIndex(s, k); err != nil {
			return nil, wrap("MergeSessions", err)
		}
	}
	for _, c := range []string{start, end} {
		i, err := expr.FieldIndex(s, c)
		if err != nil {
			return nil, wrap("MergeSessions", err)
		}
		if s.Field(i).Type.ID() != arrow.TIMESTAMP {
			return nil, wrap("MergeSessions", fmt.Errorf("%w: session bound %s is %s, not a timestamp", expr.ErrType, c, s.Field(i).Type))
		}
	}
	return &MergeSessions{Keys: keys, Start: start, End: end, Child: child}, nil
}

// Schema implements Node.
func (m *MergeSessions) Schema() *arrow.Schema { return m.Child.Schema() }

// Children implements Node.
func (m *MergeSessions) Children() []Node { return []Node{m.Child} }

// WithChildren implements Node.
func (m *MergeSessions) WithChildren(c []Node) (Node, error) {
	if len(c) != 1 {
		return nil, wrap("MergeSessions", errors.New("needs one child"))
	}
	return NewMergeSessions(c[0], m.Keys, m.Start, m.End)
}

// String implements Node.
func (m *MergeSessions) String() string {
	return fmt.Sprintf("MergeSessions [%s], [%s, %s)", strings.Join(m.Keys, ", "), m.Start, m.End)
}
