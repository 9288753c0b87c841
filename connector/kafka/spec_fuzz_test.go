package kafka

import "testing"

func FuzzParseAssign(f *testing.F) {
	f.Add(`{"a":[0,1],"b":[2]}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, s string) {
		parts, err := parseAssign(s)
		if err == nil && len(parts) == 0 {
			t.Fatal("accepted an assignment without partitions")
		}
		for _, p := range parts {
			if p.Index < 0 {
				t.Fatalf("negative partition %v", p)
			}
		}
	})
}

func FuzzParseOffsetSpec(f *testing.F) {
	f.Add("earliest", true)
	f.Add(`{"t":{"0":-2,"1":5}}`, false)
	f.Fuzz(func(t *testing.T, s string, starting bool) {
		spec, err := parseOffsetSpec(s, starting)
		if err != nil {
			return
		}
		if !starting && spec.kind == kindEarliest {
			t.Fatal("earliest accepted as an end")
		}
		for _, off := range spec.offsets {
			if off < -2 || (!starting && off == -2) {
				t.Fatalf("offset %d accepted", off)
			}
		}
	})
}
