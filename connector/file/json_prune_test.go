package file

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// ysbSchema is the YSB event: seven string keys, of which the query reads
// three.
var ysbSchema = schemaOf(
	fld("user_id", tString), fld("page_id", tString), fld("ad_id", tString),
	fld("ad_type", tString), fld("event_type", tString), fld("event_time", tString),
	fld("ip_address", tString),
)

// TestReadJSONPruned reads subsets of the columns: the values of the other
// keys are skipped, but still checked, so a record is malformed or not
// whichever columns are read (as long as the read columns convert).
func TestReadJSONPruned(t *testing.T) {
	typed := schemaOf(fld("a", tString), fld("n", tInt64), fld("x", tString), fld("_corrupt_record", tString))
	tests := []readCase{
		{
			name:   "subset in another order",
			data:   `{"user_id":"u1","page_id":"p1","ad_id":"a1","ad_type":"banner","event_type":"view","event_time":"1000","ip_address":"1.2.3.4"}`,
			schema: ysbSchema,
			cols:   []string{"event_time", "ad_id", "event_type"},
			want:   []string{"1000|a1|view"},
		},
		{
			name:   "keys missing, null, out of order, duplicated (last wins)",
			data:   `{"ad_id":"a1"}` + "\n" + `{"event_type":null,"ad_id":"a2","user_id":"u"}` + "\n" + `{"event_time":"5","ad_id":"a3","event_type":"click","ad_id":"a4"}` + "\n" + `{}`,
			schema: ysbSchema,
			cols:   []string{"ad_id", "event_type", "event_time"},
			want:   []string{"a1|(null)|(null)", "a2|(null)|(null)", "a4|click|5", "(null)|(null)|(null)"},
		},
		{
			name: "nested objects and arrays in skipped values",
			data: `{"user_id":{"a":[1,{"b":"}]\""}],"c":{}},"ad_id":"a1","page_id":[[],[null,true,false,-1.5e3]],"event_type":"view"}` + "\n" +
				`{"ad_id":"a2","ip_address":[{"x":"y"}],"event_type":"click"}`,
			schema: ysbSchema,
			cols:   []string{"event_type", "ad_id"},
			want:   []string{"view|a1", "click|a2"},
		},
		{
			name: "escaped strings in skipped and read values and keys",
			data: `{"user_id":"a\"b\\c\u00e9\ud83d\ude00 \/","ad_id":"x\ty\"z","page_id":"\"\"\"\"\"\"\"\"\"\"","event_type":"v"}` + "\n" +
				`{"ad\u005fid":"escaped key","event_type":"plain"}`,
			schema: ysbSchema,
			cols:   []string{"ad_id", "event_type"},
			want:   []string{"x\ty\"z|v", "escaped key|plain"},
		},
		{
			name:   "a column read twice has its value twice",
			data:   `{"ad_id":"a1","user_id":"u"}` + "\n" + `{"user_id":"v"}`,
			schema: ysbSchema,
			cols:   []string{"ad_id", "user_id", "ad_id"},
			want:   []string{"a1|u|a1", "(null)|v|(null)"},
		},
		{
			name:   "a requested string column takes other values as their JSON text",
			data:   `{"ad_id":12,"event_type":{"k":[1, 2]}}` + "\n" + `{"ad_id":true,"event_type":""}`,
			schema: ysbSchema,
			cols:   []string{"ad_id", "event_type"},
			want:   []string{`12|{"k":[1, 2]}`, "true|"},
		},
		{
			name: "malformed skipped values make malformed records (permissive with corrupt column)",
			data: `{"a":"ok","x":"bad \q escape"}` + "\n" + // bad escape
				`{"a":"ok","x":[1,2}` + "\n" + // broken array
				`{"a":"ok","x":"ctl` + "\x01" + `"}` + "\n" + // control character
				`{"a":"ok","x":01}` + "\n" + // bad number
				`{"a":"ok","x":"unterminated` + "\n" +
				`{"a":"ok","x":tru}` + "\n" + // bad literal
				`{"a":"fine","x":{"deep":["\"}"]}}` + "\n" +
				`{"a":"ok"} trailing`,
			schema: typed,
			cols:   []string{"_corrupt_record", "a"},
			want: []string{
				`{"a":"ok","x":"bad \q escape"}|(null)`,
				`{"a":"ok","x":[1,2}|(null)`,
				`{"a":"ok","x":"ctl` + "\x01" + `"}|(null)`,
				`{"a":"ok","x":01}|(null)`,
				`{"a":"ok","x":"unterminated|(null)`,
				`{"a":"ok","x":tru}|(null)`,
				`(null)|fine`,
				`{"a":"ok"} trailing|(null)`,
			},
			stats: ReadStats{Rows: 8, MalformedRows: 7},
		},
		{
			name:   "only read columns are converted: a bad integer in a skipped key is fine",
			data:   `{"a":"1","n":"not a number"}` + "\n" + `{"a":"2","n":3}`,
			schema: typed,
			cols:   []string{"a"},
			want:   []string{"1", "2"},
			stats:  ReadStats{Rows: 2},
		},
		{
			name:   "a bad integer in a read key is malformed",
			data:   `{"a":"1","n":"not a number"}` + "\n" + `{"a":"2","n":3}`,
			schema: typed,
			cols:   []string{"n", "a"},
			want:   []string{"(null)|(null)", "3|2"},
			stats:  ReadStats{Rows: 2, MalformedRows: 1},
		},
		{
			name:   "dropmalformed counts records broken in skipped values",
			data:   `{"ad_id":"a1","user_id":"\x"}` + "\n" + `{"ad_id":"a2","user_id":[}` + "\n" + `{"ad_id":"a3","user_id":"u"}`,
			schema: ysbSchema,
			opts:   map[string]string{"mode": "DROPMALFORMED"},
			cols:   []string{"ad_id"},
			want:   []string{"a3"},
			stats:  ReadStats{Rows: 1, MalformedRows: 2, DroppedRows: 2},
		},
		{
			name:    "failfast stops at a record broken in a skipped value",
			data:    `{"ad_id":"a1"}` + "\n" + `{"ad_id":"a2","page_id":{"k":}}`,
			schema:  ysbSchema,
			opts:    map[string]string{"mode": "FAILFAST"},
			cols:    []string{"ad_id"},
			wantErr: "data.json:2:",
		},
		{
			name:   "no columns counts the records",
			data:   `{"ad_id":"a1"}` + "\n" + `{"ad_id":"a2","x":{"y":[1]}}`,
			schema: ysbSchema,
			cols:   []string{},
			want:   []string{"", ""},
			stats:  ReadStats{Rows: 2},
		},
	}
	runReadCases(t, "json", "data.json", tests)
}

// randJSONValue returns a random JSON value, valid or (sometimes) not.
func randJSONValue(r *rand.Rand, depth int) string {
	pieces := []string{"a", "0123456789", `\"`, `\\`, `\n`, `\u00e9`, `\ud83d\ude00`, "é", "}", "]", ",", ":", "{", " "}
	str := func() string {
		var b strings.Builder
		b.WriteByte('"')
		for range r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		b.WriteByte('"')
		return b.String()
	}
	switch k := r.IntN(12); {
	case k < 5:
		return str()
	case k == 5:
		return []string{"null", "true", "false", "-1.5e3", "0", "42"}[r.IntN(6)]
	case k == 6 && depth < 3:
		var parts []string
		for range r.IntN(4) {
			parts = append(parts, randJSONValue(r, depth+1))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case k == 7 && depth < 3:
		var parts []string
		for range r.IntN(4) {
			parts = append(parts, str()+":"+randJSONValue(r, depth+1))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case k == 8: // broken
		return []string{`"\x"`, `"open`, `[1,`, `{"a"}`, `01`, `tru`, "\"\x01\"", `"\u12"`, `{`}[r.IntN(9)]
	}
	return str()
}

// TestReadJSONPrunedMatchesFull reads random records of string columns
// whole and pruned: the pruned rows are the whole rows' projection, with
// the same malformed counts, in every mode.
func TestReadJSONPrunedMatchesFull(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := fieldNames(ysbSchema)
	var lines []string
	for range 400 {
		var parts []string
		for _, i := range r.Perm(len(names))[:r.IntN(len(names)+1)] {
			parts = append(parts, fmt.Sprintf("%q:%s", names[i], randJSONValue(r, 0)))
		}
		if r.IntN(10) == 0 {
			parts = append(parts, `"extra":`+randJSONValue(r, 0))
		}
		lines = append(lines, "{"+strings.Join(parts, ",")+"}")
	}
	p := writeTemp(t, "data.json", strings.Join(lines, "\n"))
	subsets := [][]string{{"event_time", "ad_id", "event_type"}, {"ip_address"}, {"user_id", "user_id"}, {"page_id", "ad_type", "user_id", "ip_address"}}
	for _, mode := range []string{"PERMISSIVE", "DROPMALFORMED"} {
		opts := map[string]string{"mode": mode}
		full, _, fst, err := readAll(t, "json", p, ReadOptions{Schema: ysbSchema, Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		if fst.MalformedRows == 0 || fst.MalformedRows == int64(len(lines)) {
			t.Fatalf("%s: %d malformed of %d: the test wants some of each", mode, fst.MalformedRows, len(lines))
		}
		for _, cols := range subsets {
			idx := make([]int, len(cols))
			for i, c := range cols {
				idx[i] = slices.Index(names, c)
			}
			want := make([]string, len(full))
			for i, row := range full {
				vals := strings.Split(row, "|")
				if len(vals) != len(names) {
					t.Skip("a value holds the separator") // not with this seed
				}
				out := make([]string, len(idx))
				for j, k := range idx {
					out[j] = vals[k]
				}
				want[i] = strings.Join(out, "|")
			}
			got, _, st, err := readAll(t, "json", p, ReadOptions{Schema: ysbSchema, Options: opts, Columns: cols})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s %v: rows differ from the full read's projection", mode, cols)
			}
			st.Bytes, st.Batches = 0, 0
			fst.Bytes, fst.Batches = 0, 0
			if st != fst {
				t.Errorf("%s %v: stats %+v, full read %+v", mode, cols, st, fst)
			}
		}
	}
	// FAILFAST fails on the same line whichever columns are read.
	_, _, _, ferr := readAll(t, "json", p, ReadOptions{Schema: ysbSchema, Options: map[string]string{"mode": "FAILFAST"}})
	_, _, _, perr := readAll(t, "json", p, ReadOptions{Schema: ysbSchema, Options: map[string]string{"mode": "FAILFAST"}, Columns: []string{"ad_id"}})
	if ferr == nil || perr == nil || ferr.Error() != perr.Error() {
		t.Errorf("FAILFAST: full read %v, pruned read %v", ferr, perr)
	}
}

// scanStringRef is scanString one byte at a time, as it was before it
// skipped plain bytes by words.
func scanStringRef(b []byte, i int) (int, bool, bool) {
	esc := false
	for i++; i < len(b); {
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return 0, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return 0, false, false
				}
				for _, h := range b[i+2 : i+6] {
					if _, ok := unhex(h); !ok {
						return 0, false, false
					}
				}
				i += 6
			default:
				return 0, false, false
			}
		case c < 0x20:
			return 0, false, false
		default:
			i++
		}
	}
	return 0, false, false
}

func TestScanStringMatchesBytewise(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{'a', 'z', '"', '\\', 'u', 'n', '0', 'f', 0x00, 0x1f, 0x20, 0x21, 0x5b, 0x5c, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff}
	for range 200000 {
		b := make([]byte, 1+r.IntN(40))
		b[0] = '"'
		for i := 1; i < len(b); i++ {
			if r.IntN(4) == 0 {
				b[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				b[i] = 'a' + byte(r.IntN(26))
			}
		}
		end, esc, err := scanString(b, 0)
		wend, wesc, ok := scanStringRef(b, 0)
		if (err == nil) != ok || end != wend || esc != wesc {
			t.Fatalf("scanString(%q) = %d, %v, %v; bytewise %d, %v, ok %v", b, end, esc, err, wend, wesc, ok)
		}
	}
}

// columnsOf reads path and returns each column's values rendered, by name.
func columnsOf(t *testing.T, path string, o ReadOptions) (map[string][]string, ReadStats, error) {
	t.Helper()
	o.Alloc = checkedAlloc(t)
	out := map[string][]string{}
	st, err := ReadFile(context.Background(), FormatJSON, path, o, func(r arrow.RecordBatch) error {
		for c, f := range r.Schema().Fields() {
			for i := range int(r.NumRows()) {
				out[f.Name] = append(out[f.Name], r.Column(c).ValueStr(i))
			}
		}
		r.Release()
		return nil
	})
	st.Bytes, st.Batches = 0, 0
	return out, st, err
}

// FuzzReadJSONPruned checks that a read of some columns of string type
// gives those columns of the read of all, with the same counts, in every
// mode: skipped values are checked as strictly as read ones.
func FuzzReadJSONPruned(f *testing.F) {
	addSeedFiles(f, "people.json", "malformed.json")
	f.Add([]byte(`{"user_id":"u","ad_id":"a\"\u00e9","event_type":{"x":[1,"]"]},"page_id":[}`+"\n"+`{"ad_id":1e5,"ip_address":"\q"}`), false)
	f.Add([]byte(`[{"ad_id":"a","user_id":[[[]]]},{"event_time":"t","ad_id":null}]`), true)
	schema := schemaOf(append(ysbSchema.Fields(), fld("_corrupt_record", tString))...)
	f.Fuzz(func(t *testing.T, data []byte, multi bool) {
		p := filepath.Join(t.TempDir(), "in.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, mode := range []string{"PERMISSIVE", "DROPMALFORMED", "FAILFAST"} {
			o := map[string]string{"mode": mode}
			if multi {
				o["multiLine"] = "true"
			}
			full, fst, ferr := columnsOf(t, p, ReadOptions{Schema: schema, Options: o})
			for _, cols := range [][]string{{"event_time", "ad_id", "event_type"}, {"_corrupt_record", "page_id"}} {
				got, st, err := columnsOf(t, p, ReadOptions{Schema: schema, Options: o, Columns: cols})
				if (err == nil) != (ferr == nil) || (err != nil && err.Error() != ferr.Error()) {
					t.Fatalf("%s %v: error %v, full read %v", mode, cols, err, ferr)
				}
				if err != nil {
					continue
				}
				if st != fst {
					t.Fatalf("%s %v: stats %+v, full read %+v", mode, cols, st, fst)
				}
				for _, c := range cols {
					if !slices.Equal(got[c], full[c]) {
						t.Fatalf("%s %v: column %s = %q, full read %q", mode, cols, c, got[c], full[c])
					}
				}
			}
		}
	})
}
