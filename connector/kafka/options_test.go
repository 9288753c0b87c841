package kafka

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/spate-io/spate/connector"
)

func sourceConfig(t *testing.T, opts map[string]string) (config, error) {
	t.Helper()
	os, err := SourceOptions(opts)
	if err != nil {
		return config{}, err
	}
	c := defaults()
	for _, o := range os {
		o(&c)
	}
	return c, nil
}

func TestSourceOptionsMapping(t *testing.T) {
	c, err := sourceConfig(t, map[string]string{
		"kafka.bootstrap.servers": "a:1, b:2",
		"subscribe":               "x,y",
		"startingOffsets":         `{"x":{"0":-2,"1":5}}`,
		"endingOffsets":           "latest",
		"maxOffsetsPerTrigger":    "1000",
		"minOffsetsPerTrigger":    "10",
		"maxTriggerDelay":         "30 seconds",
		"failOnDataLoss":          "false",
		"includeHeaders":          "true",
		"kafka.group.id":          "mon",
		"kafka.isolation.level":   "read_committed",
		"kafka.client.id":         "me",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.brokers, []string{"a:1", "b:2"}) || !reflect.DeepEqual(c.topics, []string{"x", "y"}) ||
		c.starting.kind != kindSpecific || c.starting.offsets[connector.Partition{Stream: "x", Index: 1}] != 5 ||
		c.ending.kind != kindLatest || c.limits != (connector.Limits{MaxOffsetsPerTrigger: 1000, MinOffsetsPerTrigger: 10, MaxTriggerDelay: 30 * time.Second}) ||
		c.failOnDataLoss || !c.includeHeaders || c.groupID != "mon" || !c.readCommitted || c.clientID != "me" {
		t.Fatalf("config %+v", c)
	}
	c, err = sourceConfig(t, map[string]string{"kafka.bootstrap.servers": "a:1", "assign": `{"t":[1,0]}`, "startingTimestamp": "1700000000000"})
	if err != nil || !reflect.DeepEqual(c.assign, []connector.Partition{{Stream: "t", Index: 0}, {Stream: "t", Index: 1}}) ||
		c.starting.kind != kindTime || !c.starting.at.Equal(time.UnixMilli(1700000000000)) || !c.failOnDataLoss {
		t.Fatalf("assign: %+v %v", c, err)
	}
}

func TestSourceOptionsErrors(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{"kafka.bootstrap.servers": "h:1"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		opts     map[string]string
		key      string
		contains string
	}{
		{base("subscribe", "t", "kafka.bogus.setting", "1"), "kafka.bogus.setting", "supported: kafka.bootstrap.servers, kafka.client.id, kafka.default.api.timeout.ms"},
		{base("subscribe", "t", "startingoffset", "earliest"), "startingoffset", "supported: kafka.bootstrap.servers"},
		{base(), "subscribe", "set exactly one of subscribe, subscribePattern, assign (got 0)"},
		{base("subscribe", "t", "assign", `{"t":[0]}`), "subscribe", "got 2"},
		{base("assign", `{"t":[-1]}`), "assign", "negative partition"},
		{base("subscribe", "t", "startingOffsets", "first"), "startingOffsets", "want earliest, latest or JSON"},
		{base("subscribe", "t", "endingOffsets", "earliest"), "endingOffsets", "not a valid end"},
		{base("subscribe", "t", "endingOffsets", `{"t":{"0":-2}}`), "endingOffsets", "not allowed"},
		{base("subscribe", "t", "subscribePattern", "("), "subscribePattern", "missing closing"},
		{base("subscribe", "t", "maxOffsetsPerTrigger", "-4"), "maxOffsetsPerTrigger", "outside"},
		{base("subscribe", "t", "failOnDataLoss", "maybe"), "failOnDataLoss", "true or false"},
		{base("subscribe", "t", "kafka.isolation.level", "serializable"), "kafka.isolation.level", "read_uncommitted, read_committed"},
		{base("subscribe", "t", "kafka.security.protocol", "SASL_PLAINTEXT"), "kafka.sasl.username", "required with SASL_PLAINTEXT"},
		{base("subscribe", "t", "kafka.sasl.username", "u"), "kafka.security.protocol", "need SASL_PLAINTEXT or SASL_SSL"},
		{base("subscribe", "t", "kafka.security.protocol", "SSL", "kafka.ssl.ca.location", "/nonexistent.pem"), "kafka.ssl.ca.location", "no such file"},
		{map[string]string{"subscribe": "t"}, "kafka.bootstrap.servers", "is required"},
	}
	for _, tt := range tests {
		_, err := SourceOptions(tt.opts)
		var oe *connector.OptionError
		if !errors.As(err, &oe) || oe.Key != tt.key || !strings.Contains(err.Error(), tt.contains) {
			t.Errorf("SourceOptions(%v) = %v; want an error on %s containing %q", tt.opts, err, tt.key, tt.contains)
		}
	}
	if _, err := SinkOptions(map[string]string{"kafka.bootstrap.servers": "h", "subscribe": "t"}, "q", 0); !errors.Is(err, connector.ErrUnknownOption) {
		t.Errorf("sink with a source option: %v", err)
	}
}

func TestSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "s"), kfake.EnableSASL(), kfake.Superuser(mech, "alice", "secret"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			addr := strings.Join(c.ListenAddrs(), ",")
			opts := func(pass string) map[string]string {
				return map[string]string{"kafka.bootstrap.servers": addr, "subscribe": "s", "kafka.security.protocol": "SASL_PLAINTEXT",
					"kafka.sasl.mechanism": mech, "kafka.sasl.username": "alice", "kafka.sasl.password": pass, "kafka.default.api.timeout.ms": "1000"}
			}
			good, err := SourceOptions(opts("secret"))
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewSource(testCtx(t), good...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.LatestOffsets(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			bad, _ := SourceOptions(opts("wrong"))
			if s, err := NewSource(testCtx(t), bad...); err == nil {
				s.Close()
				t.Fatal("wrong password accepted")
			} else {
				t.Logf("wrong password: %v", err) // kfake drops the connection: ErrUnavailable
			}
		})
	}
}

func TestProviderInRegistry(t *testing.T) {
	addrs := newCluster(t, 2, "p")
	reg, err := connector.NewRegistry(Provider{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := reg.Lookup("Kafka")
	if err != nil {
		t.Fatal(err)
	}
	prov, ok := got.(interface {
		OpenSource(context.Context, map[string]string) (*Source, error)
	})
	if !ok || got.Spec().Connector != "kafka source" {
		t.Fatalf("provider %T", got)
	}
	ctx := testCtx(t)
	src, err := prov.OpenSource(ctx, map[string]string{"kafka.bootstrap.servers": strings.Join(addrs, ","), "subscribe": "p", "startingOffsets": "earliest"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if o, err := src.InitialOffsets(ctx); err != nil || len(o) != 2 {
		t.Fatal(o, err)
	}
	sink, err := Provider{}.OpenSink(ctx, map[string]string{"kafka.bootstrap.servers": strings.Join(addrs, ","), "topic": "p", "kafka.transactional": "true"}, "q", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if sink.AtLeastOnce() {
		t.Fatal("transactional sink from options is at-least-once")
	}
}
