package benchsuite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// The constants of the Yahoo Streaming Benchmark's generator.
const (
	ysbCampaigns      = 100
	ysbAdsPerCampaign = 10
	ysbUsers          = 100 // user ids of the real-time generator
	ysbPages          = 100 // page ids of the real-time generator
	ysbWindowMs       = 10_000
)

var (
	ysbAdTypes    = [...]string{"banner", "modal", "sponsored-search", "mail", "mobile"}
	ysbEventTypes = [...]string{"view", "click", "purchase"}
)

// YSBConfig configures the YSB generator.
type YSBConfig struct {
	// Seed makes the ids and the events. Default: 1.
	Seed uint64
	// BaseMs is the event time of event 0, in ms since the Unix epoch.
	// Default: 2026-01-01T00:00:00Z.
	BaseMs int64
	// EventRate is the number of events per second of event time: event g
	// has event_time BaseMs + g·1000/EventRate. Default: 1,000,000.
	EventRate int64
}

// defaultBaseMs is 2026-01-01T00:00:00Z.
const defaultBaseMs = 1_767_225_600_000

func (c YSBConfig) withDefaults() YSBConfig {
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.BaseMs == 0 {
		c.BaseMs = defaultBaseMs
	}
	if c.EventRate <= 0 {
		c.EventRate = 1_000_000
	}
	return c
}

// YSBGenerator makes the ad events of the Yahoo Streaming Benchmark as
// its real-time generator does: 100 campaigns of 10 ads each (random
// UUIDs), user and page ids from pools of 100 UUIDs, the ad, the ad type
// and the event type drawn uniformly, ip_address always 1.2.3.4. Events
// are JSON objects with the original key order and spacing.
type YSBGenerator struct {
	cfg       YSBConfig
	campaigns []string
	ads       []string // ad i belongs to campaign i/ysbAdsPerCampaign
	users     []string
	pages     []string
	adIndex   map[string]int32 // ad id → campaign index: the join table
}

var _ Generator[[]byte] = (*YSBGenerator)(nil)

// NewYSBGenerator returns the generator of cfg.
func NewYSBGenerator(cfg YSBConfig) *YSBGenerator {
	cfg = cfg.withDefaults()
	r := rng{s: mix64(cfg.Seed ^ 0x5953_4200)}
	uuids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = uuid(&r)
		}
		return out
	}
	g := &YSBGenerator{cfg: cfg, campaigns: uuids(ysbCampaigns), ads: uuids(ysbCampaigns * ysbAdsPerCampaign),
		users: uuids(ysbUsers), pages: uuids(ysbPages)}
	g.adIndex = make(map[string]int32, len(g.ads))
	for i, ad := range g.ads {
		g.adIndex[ad] = int32(i / ysbAdsPerCampaign)
	}
	return g
}

// uuid returns a random (version 4) UUID string.
func uuid(r *rng) string {
	const hex = "0123456789abcdef"
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := r.next()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}

// Config returns the generator's configuration, with defaults filled in.
func (g *YSBGenerator) Config() YSBConfig { return g.cfg }

// Campaigns returns the campaign ids; campaign i has ads
// Ads()[10i:10i+10].
func (g *YSBGenerator) Campaigns() []string { return g.campaigns }

// Ads returns the ad ids.
func (g *YSBGenerator) Ads() []string { return g.ads }

// CampaignOf returns the campaign index of an ad id (the static join
// table of the query).
func (g *YSBGenerator) CampaignOf(ad []byte) (int32, bool) {
	c, ok := g.adIndex[string(ad)]
	return c, ok
}

// EventTimeMs returns the event time of event g.
func (g *YSBGenerator) EventTimeMs(ev int64) int64 {
	return g.cfg.BaseMs + ev*1000/g.cfg.EventRate
}

// ysbEventSize bounds the size of one event in bytes.
const ysbEventSize = 272

// AppendEvent appends the JSON of event ev to b.
func (g *YSBGenerator) AppendEvent(b []byte, ev int64) []byte {
	r := eventRNG(g.cfg.Seed, ev)
	user := g.users[r.intn(ysbUsers)]
	page := g.pages[r.intn(ysbPages)]
	ad := g.ads[r.intn(int64(len(g.ads)))]
	adType := ysbAdTypes[r.intn(int64(len(ysbAdTypes)))]
	eventType := ysbEventTypes[r.intn(int64(len(ysbEventTypes)))]
	b = append(b, `{"user_id": "`...)
	b = append(b, user...)
	b = append(b, `", "page_id": "`...)
	b = append(b, page...)
	b = append(b, `", "ad_id": "`...)
	b = append(b, ad...)
	b = append(b, `", "ad_type": "`...)
	b = append(b, adType...)
	b = append(b, `", "event_type": "`...)
	b = append(b, eventType...)
	b = append(b, `", "event_time": "`...)
	b = strconv.AppendInt(b, g.EventTimeMs(ev), 10)
	b = append(b, `", "ip_address": "1.2.3.4"}`...)
	return b
}

// Generate appends events g0, g0+step, ... as JSON, all cut from one new
// buffer.
func (g *YSBGenerator) Generate(dst [][]byte, g0, step int64, n int) [][]byte {
	buf := make([]byte, 0, n*ysbEventSize)
	for i := range n {
		at := len(buf)
		buf = g.AppendEvent(buf, g0+int64(i)*step)
		dst = append(dst, buf[at:len(buf):len(buf)])
	}
	return dst
}

// YSBEvent is the part of an ad event the query needs.
type YSBEvent struct {
	AdID      []byte // aliases the input
	EventType []byte // aliases the input
	EventTime int64  // ms
}

// YSBParser parses one event. Implementations: [ParseYSBFast] and
// [ParseYSBStd].
type YSBParser func(line []byte, ev *YSBEvent) error

// errYSBSyntax is returned for input the fast parser cannot read.
var errYSBSyntax = errors.New("benchsuite: malformed YSB event")

// ParseYSBFast is a hand-written parser for flat JSON objects of string
// values: it walks the keys, picks ad_id, event_type and event_time and
// skips the others. A string with an escape falls back to encoding/json.
func ParseYSBFast(line []byte, ev *YSBEvent) error {
	*ev = YSBEvent{}
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return errYSBSyntax
	}
	i++
	var timeText []byte
	for {
		i = skipSpace(line, i)
		if i < len(line) && line[i] == '}' {
			break
		}
		key, j, ok := jsonString(line, i)
		if !ok {
			return ParseYSBStd(line, ev)
		}
		j = skipSpace(line, j)
		if j >= len(line) || line[j] != ':' {
			return errYSBSyntax
		}
		val, k, ok := jsonString(line, skipSpace(line, j+1))
		if !ok {
			return ParseYSBStd(line, ev)
		}
		switch string(key) {
		case "ad_id":
			ev.AdID = val
		case "event_type":
			ev.EventType = val
		case "event_time":
			timeText = val
		}
		i = skipSpace(line, k)
		if i < len(line) && line[i] == ',' {
			i++
			continue
		}
		if i < len(line) && line[i] == '}' {
			break
		}
		return errYSBSyntax
	}
	t, ok := parseDigits(timeText)
	if !ok {
		return fmt.Errorf("%w: event_time %q", errYSBSyntax, timeText)
	}
	ev.EventTime = t
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonString reads the string starting at b[i] (a quote); ok is false for
// anything else or a string with an escape.
func jsonString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	end := bytes.IndexByte(b[i+1:], '"')
	if end < 0 {
		return nil, i, false
	}
	s = b[i+1 : i+1+end]
	if bytes.IndexByte(s, '\\') >= 0 {
		return nil, i, false
	}
	return s, i + end + 2, true
}

func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// ysbJSON is the full event, for encoding/json.
type ysbJSON struct {
	UserID    string `json:"user_id"`
	PageID    string `json:"page_id"`
	AdID      string `json:"ad_id"`
	AdType    string `json:"ad_type"`
	EventType string `json:"event_type"`
	EventTime string `json:"event_time"`
	IPAddress string `json:"ip_address"`
}

// ParseYSBStd parses an event with encoding/json into the full 7-field
// struct (as the reference implementations do).
func ParseYSBStd(line []byte, ev *YSBEvent) error {
	var j ysbJSON
	if err := json.Unmarshal(line, &j); err != nil {
		return fmt.Errorf("benchsuite: YSB event: %w", err)
	}
	t, err := strconv.ParseInt(j.EventTime, 10, 64)
	if err != nil {
		return fmt.Errorf("benchsuite: YSB event_time: %w", err)
	}
	*ev = YSBEvent{AdID: []byte(j.AdID), EventType: []byte(j.EventType), EventTime: t}
	return nil
}

// Parsers by name, for the --parser flag.
const (
	ParserFast = "fast"
	ParserStd  = "encoding/json"
)

// YSBParserByName returns the parser called name.
func YSBParserByName(name string) (YSBParser, error) {
	switch name {
	case ParserFast, "":
		return ParseYSBFast, nil
	case ParserStd:
		return ParseYSBStd, nil
	}
	return nil, fmt.Errorf("unknown parser %q: want %s or %s", name, ParserFast, ParserStd)
}

// ysbKey is the state key of the query: a campaign and a window start.
type ysbKey struct {
	Campaign int32
	Window   int64 // window start, ms
}

// ysbWindow returns the start of the 10 s window of an event time.
func ysbWindow(ms int64) int64 { return ms / ysbWindowMs * ysbWindowMs }

// ysbView parses line and, for a view of a known ad, returns its
// campaign and window: the parse, filter, project and join steps of the
// query, shared by the DStream query and the baseline.
func (g *YSBGenerator) ysbView(parse YSBParser, line []byte, ev *YSBEvent) (ysbKey, bool, error) {
	if err := parse(line, ev); err != nil {
		return ysbKey{}, false, err
	}
	if string(ev.EventType) != "view" {
		return ysbKey{}, false, nil
	}
	c, ok := g.CampaignOf(ev.AdID)
	if !ok {
		return ysbKey{}, false, nil
	}
	return ysbKey{Campaign: c, Window: ysbWindow(ev.EventTime)}, true, nil
}
