package corpus

import (
	"slices"
	"strings"
	"testing"
)

func TestLinesDeterministicAndSized(t *testing.T) {
	cfg := Config{Words: 1003, Distinct: 50, WordsPerLine: 10, Seed: 7}
	a, b := Lines(cfg), Lines(cfg)
	if !slices.Equal(a, b) {
		t.Fatal("same config gave different corpora")
	}
	words := 0
	seen := map[string]int{}
	for _, l := range a {
		for _, w := range strings.Fields(l) {
			words++
			seen[w]++
		}
	}
	if words != 1003 || len(a) != 101 {
		t.Fatalf("%d words on %d lines, want 1003 on 101", words, len(a))
	}
	if len(seen) > 50 {
		t.Fatalf("%d distinct words, want at most 50", len(seen))
	}
	vocab := Vocabulary(50)
	if seen[vocab[0]] <= seen[vocab[10]] {
		t.Fatalf("word 0 (%d times) not more frequent than word 10 (%d): not Zipf-like", seen[vocab[0]], seen[vocab[10]])
	}
	if slices.Equal(Lines(Config{Words: 100, Seed: 1}), Lines(Config{Words: 100, Seed: 2})) {
		t.Fatal("different seeds gave the same corpus")
	}
}

func TestVocabularyDistinct(t *testing.T) {
	v := Vocabulary(100_000)
	seen := make(map[string]bool, len(v))
	for _, w := range v {
		if seen[w] {
			t.Fatalf("duplicate word %q", w)
		}
		seen[w] = true
	}
}
