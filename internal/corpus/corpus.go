// Package corpus generates deterministic text for demos, tests and
// benchmarks: lines of words whose frequencies follow a Zipf law, as
// natural text roughly does.
package corpus

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Config describes a corpus. The same Config always gives the same text.
type Config struct {
	// Words is the total number of words. Default: 1_000_000.
	Words int
	// Distinct is the vocabulary size. Default: 10_000.
	Distinct int
	// WordsPerLine is the number of words on a line (the last line may
	// be shorter). Default: 10.
	WordsPerLine int
	// Exponent is the Zipf exponent s (> 1); word k has probability
	// proportional to 1/(k+1)^s. Default: 1.1.
	Exponent float64
	// Seed selects the random sequence. Default: 1.
	Seed uint64
}

func (c Config) withDefaults() Config {
	if c.Words <= 0 {
		c.Words = 1_000_000
	}
	if c.Distinct <= 0 {
		c.Distinct = 10_000
	}
	if c.WordsPerLine <= 0 {
		c.WordsPerLine = 10
	}
	if c.Exponent <= 1 {
		c.Exponent = 1.1
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	return c
}

// Vocabulary returns the n words a corpus draws from: word k is a short
// pronounceable string that encodes k, so all n are distinct.
func Vocabulary(n int) []string {
	syllables := []string{"ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "de", "gu", "ba", "fe", "zo", "wi", "hu", "ya"}
	words := make([]string, n)
	for k := range words {
		var b strings.Builder
		x := k
		for {
			b.WriteString(syllables[x%len(syllables)])
			x /= len(syllables)
			if x == 0 {
				break
			}
		}
		words[k] = b.String()
	}
	return words
}

// Lines returns the corpus as lines of space-separated words.
func Lines(c Config) []string {
	c = c.withDefaults()
	vocab := Vocabulary(c.Distinct)
	rng := rand.New(rand.NewPCG(c.Seed, 0x5eed))
	zipf := rand.NewZipf(rng, c.Exponent, 1, uint64(c.Distinct-1))
	lines := make([]string, 0, (c.Words+c.WordsPerLine-1)/c.WordsPerLine)
	var b strings.Builder
	for w := 0; w < c.Words; w += c.WordsPerLine {
		b.Reset()
		for i := 0; i < c.WordsPerLine && w+i < c.Words; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(vocab[zipf.Uint64()])
		}
		lines = append(lines, b.String())
	}
	return lines
}

// String describes the configuration, for benchmark and demo output.
func (c Config) String() string {
	c = c.withDefaults()
	return fmt.Sprintf("%d words, %d distinct, Zipf s=%.2f, seed %d", c.Words, c.Distinct, c.Exponent, c.Seed)
}
