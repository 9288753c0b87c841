package benchsuite

import (
	"fmt"
	"math"
	"strconv"
)

// The Nexmark generator's constants (the standard generator's defaults).
const (
	nxPersonProportion  = 1
	nxAuctionProportion = 3
	nxBidProportion     = 46
	nxTotalProportion   = nxPersonProportion + nxAuctionProportion + nxBidProportion

	nxFirstPersonID   = 1000
	nxFirstAuctionID  = 1000
	nxFirstCategoryID = 10
	nxNumCategories   = 5

	nxHotAuctionRatio = 2 // 1 in 2 bids is for a hot auction
	nxHotSellersRatio = 4 // 3 in 4 auctions are by a hot seller
	nxHotBiddersRatio = 4 // 3 in 4 bids are by a hot bidder
	nxHotAuctionGroup = 100
	nxHotSellerGroup  = 100
	nxHotBidderGroup  = 100

	nxInFlightAuctions = 100
	nxActivePeople     = 1000
	nxPersonIDLead     = 10
	nxAuctionIDLead    = 10

	nxAvgPersonSize  = 200
	nxAvgAuctionSize = 500
	nxAvgBidSize     = 100

	nxChannels       = 10_000
	nxHotChannelsPct = 2 // 1 in 2 bids comes from a hot channel
)

var (
	nxFirstNames = [...]string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	nxLastNames  = [...]string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	nxCities     = [...]string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	nxStates     = [...]string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	nxHotChannel = [...]string{"Google", "Facebook", "Baidu", "Apple"}
)

// EventType is the kind of a Nexmark event.
type EventType uint8

// The Nexmark event types, numbered as in Nexmark's datagen table.
const (
	PersonEvent  EventType = 0
	AuctionEvent EventType = 1
	BidEvent     EventType = 2
)

// Person is a new user of the auction site.
type Person struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	EmailAddress string `json:"emailAddress"`
	CreditCard   string `json:"creditCard"`
	City         string `json:"city"`
	State        string `json:"state"`
	DateTime     int64  `json:"dateTime"` // ms since the Unix epoch
	Extra        string `json:"extra"`
}

// Auction is a new item for sale.
type Auction struct {
	ID          int64  `json:"id"`
	ItemName    string `json:"itemName"`
	Description string `json:"description"`
	InitialBid  int64  `json:"initialBid"`
	Reserve     int64  `json:"reserve"`
	DateTime    int64  `json:"dateTime"`
	Expires     int64  `json:"expires"`
	Seller      int64  `json:"seller"`
	Category    int64  `json:"category"`
	Extra       string `json:"extra"`
}

// Bid is a bid for an auction.
type Bid struct {
	Auction  int64  `json:"auction"`
	Bidder   int64  `json:"bidder"`
	Price    int64  `json:"price"`
	Channel  string `json:"channel"`
	URL      string `json:"url"`
	DateTime int64  `json:"dateTime"`
	Extra    string `json:"extra"`
}

// Event is one Nexmark event: a bid (by value: 92% of events) or a
// person or an auction (by pointer).
type Event struct {
	Type    EventType
	Bid     Bid
	Person  *Person
	Auction *Auction
}

// NexmarkConfig configures the Nexmark generator.
type NexmarkConfig struct {
	// Seed makes the events. Default: 1.
	Seed uint64
	// BaseMs is the dateTime of event 0. Default: 2026-01-01T00:00:00Z.
	BaseMs int64
	// EventRate is the number of events per second of event time: event g
	// has dateTime BaseMs + g·1000/EventRate. Default: 10,000,000 (the
	// tps of Nexmark's suite).
	EventRate int64
}

func (c NexmarkConfig) withDefaults() NexmarkConfig {
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.BaseMs == 0 {
		c.BaseMs = defaultBaseMs
	}
	if c.EventRate <= 0 {
		c.EventRate = 10_000_000
	}
	return c
}

// NexmarkGenerator makes Nexmark events following the standard
// generator's rules: event g is a person when g mod 50 = 0, an auction
// when it is 1–3 and a bid otherwise; person and auction ids count up from
// 1000 with the events; bids go to a hot auction half of the time and to
// one of the last 100 auctions otherwise, by a hot bidder 3 times in 4;
// prices are log-uniform from 1 to 10^6 dollars (in cents); auctions
// expire within twice the time it takes to open 100 more; the extra field
// pads each record to about its average size (200, 500, 100 bytes).
// Strings are cut from a pool of random letters, and e-mail addresses,
// credit cards and channel URLs come from tables made from the seed, so
// generating an event allocates nothing but its person or auction.
type NexmarkGenerator struct {
	cfg      NexmarkConfig
	pool     stringPool
	names    []string
	emails   []string
	cards    []string
	channels []string // "channel-i"
	urls     []string // the URL of each channel
	hotURLs  [len(nxHotChannel)]string
}

var _ Generator[Event] = (*NexmarkGenerator)(nil)

// nxTableSize is the size of the tables of e-mails and credit cards.
const nxTableSize = 4096

// NewNexmarkGenerator returns the generator of cfg.
func NewNexmarkGenerator(cfg NexmarkConfig) *NexmarkGenerator {
	cfg = cfg.withDefaults()
	g := &NexmarkGenerator{cfg: cfg, pool: newStringPool(mix64(cfg.Seed^0x4e58_4d4b), 1<<16)}
	r := rng{s: mix64(cfg.Seed ^ 0x7461_626c)}
	for _, f := range nxFirstNames {
		for _, l := range nxLastNames {
			g.names = append(g.names, f+" "+l)
		}
	}
	for range nxTableSize {
		user := g.pool.exact(&r, 3+int(r.intn(5)))
		host := g.pool.exact(&r, 3+int(r.intn(3)))
		g.emails = append(g.emails, user+"@"+host+".com")
		g.cards = append(g.cards, fmt.Sprintf("%04d %04d %04d %04d", r.intn(10000), r.intn(10000), r.intn(10000), r.intn(10000)))
	}
	baseURL := func() string {
		return "https://www.nexmark.com/" + g.pool.exact(&r, 5) + "/" + g.pool.exact(&r, 5) + "/" + g.pool.exact(&r, 5) + "/item.htm?query=1"
	}
	for i := range g.hotURLs {
		g.hotURLs[i] = baseURL()
	}
	for i := range nxChannels {
		g.channels = append(g.channels, "channel-"+strconv.Itoa(i))
		u := baseURL()
		if r.intn(10) > 0 { // 9 in 10 carry a channel id
			u += "&channel_id=" + reverse(strconv.Itoa(i))
		}
		g.urls = append(g.urls, u)
	}
	return g
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// Config returns the generator's configuration, with defaults filled in.
func (g *NexmarkGenerator) Config() NexmarkConfig { return g.cfg }

// TypeOf returns the type of event ev.
func TypeOf(ev int64) EventType {
	switch rem := ev % nxTotalProportion; {
	case rem < nxPersonProportion:
		return PersonEvent
	case rem < nxPersonProportion+nxAuctionProportion:
		return AuctionEvent
	default:
		return BidEvent
	}
}

// Timestamp returns the dateTime of event ev, in ms.
func (g *NexmarkGenerator) Timestamp(ev int64) int64 {
	return g.cfg.BaseMs + ev*1000/g.cfg.EventRate
}

// lastPersonID is the 0-based id of the last person made at or before
// event ev.
func lastPersonID(ev int64) int64 {
	epoch, off := ev/nxTotalProportion, ev%nxTotalProportion
	if off >= nxPersonProportion {
		off = nxPersonProportion - 1
	}
	return epoch*nxPersonProportion + off
}

// lastAuctionID is the 0-based id of the last auction made at or before
// event ev (-1 before the first).
func lastAuctionID(ev int64) int64 {
	epoch, off := ev/nxTotalProportion, ev%nxTotalProportion
	switch {
	case off < nxPersonProportion:
		epoch--
		off = nxAuctionProportion - 1
	case off >= nxPersonProportion+nxAuctionProportion:
		off = nxAuctionProportion - 1
	default:
		off -= nxPersonProportion
	}
	return epoch*nxAuctionProportion + off
}

// randomPersonID is a 0-based person id among the active ones (and a few
// not made yet).
func randomPersonID(r *rng, ev int64) int64 {
	people := lastPersonID(ev) + 1
	active := min(people, nxActivePeople)
	return people - active + r.intn(active+nxPersonIDLead)
}

// randomAuctionID is a 0-based auction id among the last in flight (and
// a few not made yet).
func randomAuctionID(r *rng, ev int64) int64 {
	maxID := lastAuctionID(ev)
	minID := max(maxID-nxInFlightAuctions, 0)
	return minID + r.intn(maxID-minID+1+nxAuctionIDLead)
}

// price is log-uniform from 100 to 10^8 cents: round(10^(6u) × 100),
// computed as exp(6u·ln 10), which is cheaper than math.Pow.
func price(r *rng) int64 { return roundHalfUp(math.Exp(r.float()*(6*math.Ln10)) * 100) }

// extra pads a record of size current to about avg bytes (±20%).
func (g *NexmarkGenerator) extra(r *rng, current, avg int) string {
	if current > avg {
		return ""
	}
	avg -= current
	delta := int(math.Round(float64(avg) * 0.2))
	size := avg - delta
	if delta > 0 {
		size += int(r.intn(int64(2 * delta)))
	}
	return g.pool.exact(r, size)
}

// Generate appends events g0, g0+step, ...; the persons and auctions of
// one call share one allocation each.
func (g *NexmarkGenerator) Generate(dst []Event, g0, step int64, n int) []Event {
	var persons []Person
	var auctions []Auction
	for i := range n {
		ev := g0 + int64(i)*step
		var e Event
		switch TypeOf(ev) {
		case PersonEvent:
			if persons == nil {
				persons = make([]Person, 0, n/nxTotalProportion*nxPersonProportion+2)
			}
			persons = append(persons, Person{})
			e = Event{Type: PersonEvent, Person: &persons[len(persons)-1]}
			g.person(ev, e.Person)
		case AuctionEvent:
			if auctions == nil {
				auctions = make([]Auction, 0, (n/nxTotalProportion+1)*nxAuctionProportion+1)
			}
			auctions = append(auctions, Auction{})
			e = Event{Type: AuctionEvent, Auction: &auctions[len(auctions)-1]}
			g.auction(ev, e.Auction)
		default:
			e.Type = BidEvent
			g.bid(ev, &e.Bid)
		}
		dst = append(dst, e)
	}
	return dst
}

// Event returns event ev on its own.
func (g *NexmarkGenerator) Event(ev int64) Event {
	return g.Generate(nil, ev, 1, 1)[0]
}

func (g *NexmarkGenerator) person(ev int64, p *Person) {
	r := eventRNG(g.cfg.Seed, ev)
	p.ID = lastPersonID(ev) + nxFirstPersonID
	p.Name = g.names[r.intn(int64(len(g.names)))]
	p.EmailAddress = g.emails[r.intn(nxTableSize)]
	p.CreditCard = g.cards[r.intn(nxTableSize)]
	p.City = nxCities[r.intn(int64(len(nxCities)))]
	p.State = nxStates[r.intn(int64(len(nxStates)))]
	p.DateTime = g.Timestamp(ev)
	size := 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State) + 8
	p.Extra = g.extra(&r, size, nxAvgPersonSize)
}

func (g *NexmarkGenerator) auction(ev int64, a *Auction) {
	r := eventRNG(g.cfg.Seed, ev)
	a.ID = lastAuctionID(ev) + nxFirstAuctionID
	if r.intn(nxHotSellersRatio) > 0 {
		a.Seller = lastPersonID(ev) / nxHotSellerGroup * nxHotSellerGroup
	} else {
		a.Seller = randomPersonID(&r, ev)
	}
	a.Seller += nxFirstPersonID
	a.Category = nxFirstCategoryID + r.intn(nxNumCategories)
	a.InitialBid = price(&r)
	a.Reserve = a.InitialBid + price(&r)
	a.ItemName = g.pool.upTo(&r, 20)
	a.Description = g.pool.upTo(&r, 100)
	a.DateTime = g.Timestamp(ev)
	// The horizon is the time until nxInFlightAuctions more auctions are
	// made.
	const eventsFor100 = nxInFlightAuctions * nxTotalProportion / nxAuctionProportion
	horizon := g.Timestamp(ev+eventsFor100) - a.DateTime
	a.Expires = a.DateTime + 1 + r.intn(max(2*horizon, 1))
	size := 8 + len(a.ItemName) + len(a.Description) + 8*6
	a.Extra = g.extra(&r, size, nxAvgAuctionSize)
}

func (g *NexmarkGenerator) bid(ev int64, b *Bid) {
	r := eventRNG(g.cfg.Seed, ev)
	if r.intn(nxHotAuctionRatio) > 0 {
		b.Auction = lastAuctionID(ev) / nxHotAuctionGroup * nxHotAuctionGroup
	} else {
		b.Auction = randomAuctionID(&r, ev)
	}
	b.Auction += nxFirstAuctionID
	if r.intn(nxHotBiddersRatio) > 0 {
		b.Bidder = lastPersonID(ev)/nxHotBidderGroup*nxHotBidderGroup + 1
	} else {
		b.Bidder = randomPersonID(&r, ev)
	}
	// The standard generator adds the first person id twice; kept, so that
	// bidder ids have the same range as there.
	b.Bidder += 2 * nxFirstPersonID
	b.Price = price(&r)
	if r.intn(nxHotChannelsPct) > 0 {
		i := r.intn(int64(len(nxHotChannel)))
		b.Channel, b.URL = nxHotChannel[i], g.hotURLs[i]
	} else {
		i := r.intn(nxChannels)
		b.Channel, b.URL = g.channels[i], g.urls[i]
	}
	b.DateTime = g.Timestamp(ev)
	// As in the standard generator, only the four numbers count towards
	// the size the extra field pads.
	b.Extra = g.extra(&r, 8*4, nxAvgBidSize)
}
