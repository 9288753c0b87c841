package file

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// TestRangesTileTheFile reads files in ranges of many sizes and checks that
// the ranges together give exactly the rows of a whole-file read, in order.
func TestRangesTileTheFile(t *testing.T) {
	var csvData, jsonData, textData strings.Builder
	csvData.WriteString("name,n\n")
	for i := range 200 {
		switch {
		case i%17 == 0:
			csvData.WriteString("\n") // blank line
			jsonData.WriteString("\n")
		case i%13 == 0:
			csvData.WriteString("bad,x\n")
			jsonData.WriteString("{broken\n")
		}
		name := strings.Repeat("n", i%40)
		fmt.Fprintf(&csvData, "%s,%d\r\n", name, i)
		fmt.Fprintf(&jsonData, "{\"name\":%q,\"n\":%d}\n", name, i)
		fmt.Fprintf(&textData, "line %d %s\n", i, name)
	}
	textData.WriteString("no newline at the end")
	mem := checkedAlloc(t)
	pq, pqSchema := rowGroupFile(t, mem)
	s := schemaOf(fld("name", tString), fld("n", tInt64), fld("_corrupt_record", tString))
	cases := []struct {
		format, path string
		schema       *arrow.Schema
	}{
		{"csv", writeTemp(t, "d.csv", csvData.String()), s},
		{"json", writeTemp(t, "d.json", jsonData.String()), s},
		{"text", writeTemp(t, "d.txt", textData.String()), schemaOf(fld("value", tString))},
		{"parquet", pq, pqSchema},
	}
	for _, c := range cases {
		whole, _, _, err := readAll(t, c.format, c.path, ReadOptions{Schema: c.schema, Alloc: mem})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(c.path)
		fi := FileInfo{Path: c.path, Size: st.Size()}
		targets := []int64{1, 7, 64, 1000, st.Size() - 1}
		if c.format == "parquet" {
			targets = []int64{100, 1000, st.Size() / 3, st.Size() - 1}
		}
		for _, target := range targets {
			ranges := Splits(c.format, fi, nil, target)
			if target < st.Size() && len(ranges) < 2 {
				t.Fatalf("%s: %d bytes in ranges of %d: %d range(s)", c.format, st.Size(), target, len(ranges))
			}
			var got []string
			for _, r := range ranges {
				rows, _, _, err := readAll(t, c.format, c.path, ReadOptions{Schema: c.schema, Alloc: mem, Range: r})
				if err != nil {
					t.Fatalf("%s %v: %v", c.format, r, err)
				}
				got = append(got, rows...)
			}
			if !slices.Equal(got, whole) {
				t.Fatalf("%s in ranges of %d bytes: %d rows, whole file %d", c.format, target, len(got), len(whole))
			}
		}
	}
}

func TestRangeRestrictions(t *testing.T) {
	p := writeTemp(t, "d.json", "{\"a\":1}\n{\"a\":2}\n")
	s := schemaOf(fld("a", tInt64))
	_, _, _, err := readAll(t, "json", p, ReadOptions{Schema: s, Options: map[string]string{"multiLine": "true"}, Range: ByteRange{Offset: 3, Length: 5}})
	if err == nil || !strings.Contains(err.Error(), "cannot read bytes [3, 8)") {
		t.Fatalf("multiLine range: %v", err)
	}
	fi := FileInfo{Path: p, Size: 16}
	if r := Splits("json", fi, map[string]string{"multiLine": "true"}, 4); len(r) != 1 || r[0].Length != 16 {
		t.Errorf("multiLine splits: %v", r)
	}
	if r := Splits("csv", FileInfo{Path: "x.csv.gz", Size: 100}, nil, 10); len(r) != 1 {
		t.Errorf("gzip splits: %v", r)
	}
	if r := Splits("csv", FileInfo{Path: "x.csv", Size: 100}, nil, 30); len(r) != 4 || r[3] != (ByteRange{90, 10}) {
		t.Errorf("csv splits: %v", r)
	}
	// FAILFAST in a range names the byte offset, not a line number
	p = writeTemp(t, "f.json", "{\"a\":1}\n{\"a\":\"x\"}\n")
	_, _, _, err = readAll(t, "json", p, ReadOptions{Schema: s, Options: map[string]string{"mode": "FAILFAST"}, Range: ByteRange{Offset: 1, Length: 30}})
	if err == nil || !strings.Contains(err.Error(), "f.json:byte 8:") {
		t.Fatalf("failfast in range: %v", err)
	}
}
