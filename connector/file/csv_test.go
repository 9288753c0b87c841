package file

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestReadCSV(t *testing.T) {
	people := schemaOf(fld("name", tString), fld("age", tInt64), fld("score", tFloat))
	withCorrupt := schemaOf(fld("name", tString), fld("age", tInt64), fld("score", tFloat), fld("_corrupt_record", tString))
	tests := []readCase{
		{
			name:   "header and types",
			data:   "name,age,score\nann,31,1.5\nbob,,2\n",
			schema: people,
			want:   []string{"ann|31|1.5", "bob|(null)|2"},
		},
		{
			name:   "quotes escapes and separators",
			data:   "name,age,score\n\"a,b\",1,1\n\"say \"\"hi\"\"\",2,2\n\"back \\\" slash\",3,3\n",
			schema: people,
			want:   []string{"a,b|1|1", `say "hi"|2|2`, `back " slash|3|3`},
		},
		{
			name:   "semicolon separator no header",
			data:   "ann;31;1.5\n",
			schema: people,
			opts:   map[string]string{"sep": ";", "header": "false"},
			want:   []string{"ann|31|1.5"},
		},
		{
			name:   "null value and quoted empty string",
			data:   "name,age,score\nNA,NA,1\n\"\",1,NA\n",
			schema: people,
			opts:   map[string]string{"nullValue": "NA"},
			want:   []string{"(null)|(null)|1", "|1|(null)"},
		},
		{
			name:   "permissive puts raw line in corrupt column",
			data:   "name,age,score\nann,x,1\nbob,2,2\ncid,3\n",
			schema: withCorrupt,
			want:   []string{"(null)|(null)|(null)|ann,x,1", "bob|2|2|(null)", "(null)|(null)|(null)|cid,3"},
			stats:  ReadStats{Rows: 3, MalformedRows: 2},
		},
		{
			name:   "permissive without corrupt column gives nulls",
			data:   "name,age,score\nann,x,1\n",
			schema: people,
			want:   []string{"(null)|(null)|(null)"},
			stats:  ReadStats{Rows: 1, MalformedRows: 1},
		},
		{
			name:   "corrupt column name is configurable",
			data:   "name,age,score\nann,x,1\n",
			schema: schemaOf(fld("name", tString), fld("age", tInt64), fld("score", tFloat), fld("bad", tString)),
			opts:   map[string]string{"columnNameOfCorruptRecord": "bad"},
			want:   []string{"(null)|(null)|(null)|ann,x,1"},
		},
		{
			name:   "dropmalformed",
			data:   "name,age,score\nann,x,1\nbob,2,2\n\"open,3,3\n",
			schema: people,
			opts:   map[string]string{"mode": "DROPMALFORMED"},
			want:   []string{"bob|2|2"},
			stats:  ReadStats{Rows: 1, MalformedRows: 2, DroppedRows: 2},
		},
		{
			name:    "failfast names file and line",
			data:    "name,age,score\nbob,2,2\nann,x,1\n",
			schema:  people,
			opts:    map[string]string{"mode": "FAILFAST"},
			wantErr: `data.csv:3: column "age" (field 2): "x" is not an integer`,
		},
		{
			name:   "multiLine quoted field",
			data:   "name,age,score\n\"two\nlines\",1,1\n",
			schema: people,
			opts:   map[string]string{"multiLine": "true"},
			want:   []string{"two\nlines|1|1"},
		},
		{
			name:   "header order differs from schema: by name",
			data:   "score,name,age\n1.5,ann,31\n",
			schema: people,
			want:   []string{"ann|31|1.5"},
		},
		{
			name:   "schema column missing from file is null",
			data:   "name,age\nann,31\n",
			schema: people,
			want:   []string{"ann|31|(null)"},
		},
		{
			name:   "schema names absent from header: by position",
			data:   "a,b,c\nann,31,1.5\n",
			schema: people,
			want:   []string{"ann|31|1.5"},
		},
		{
			name:   "projection",
			data:   "name,age,score\nann,31,1.5\n",
			schema: people,
			cols:   []string{"score", "name"},
			want:   []string{"1.5|ann"},
		},
		{
			name:   "timestamps dates and booleans",
			data:   "t,d,b\n2024-05-01T10:00:00Z,2024-05-01,true\n2024-05-01 10:00:00.5,2024-05-02,FALSE\n",
			schema: schemaOf(fld("t", tTsUs), fld("d", tDate), fld("b", tBool)),
			want:   []string{"2024-05-01T10:00:00Z|2024-05-01|true", "2024-05-01T10:00:00.5Z|2024-05-02|false"},
		},
		{
			name:   "timestampFormat",
			data:   "t\n01/05/2024 10:30\n",
			schema: schemaOf(fld("t", tTsUs)),
			opts:   map[string]string{"timestampFormat": "dd/MM/yyyy HH:mm"},
			want:   []string{"2024-05-01T10:30:00Z"},
		},
		{
			name:   "comment lines and blank lines skipped, CRLF",
			data:   "name,age,score\r\n#x\r\n\r\nann,1,1\r\n",
			schema: people,
			opts:   map[string]string{"comment": "#"},
			want:   []string{"ann|1|1"},
		},
		{
			name:   "header only",
			data:   "name,age,score\n",
			schema: people,
		},
		{
			name:    "unknown projected column",
			data:    "name\nx\n",
			schema:  people,
			cols:    []string{"nope"},
			wantErr: `projected column "nope" is not in the schema (columns: name, age, score)`,
		},
		{
			name:    "bad mode",
			data:    "name\nx\n",
			schema:  people,
			opts:    map[string]string{"mode": "lenient"},
			wantErr: "option mode",
		},
	}
	runReadCases(t, "csv", "data.csv", tests)
}

func TestReadCSVFailFastIsErrMalformed(t *testing.T) {
	p := writeTemp(t, "x.csv", "a\nnot-a-number\n")
	_, _, _, err := readAll(t, "csv", p, ReadOptions{Schema: schemaOf(fld("a", tInt64)), Options: map[string]string{"mode": "failfast"}})
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
}

func TestReadCSVBatches(t *testing.T) {
	var b strings.Builder
	b.WriteString("n\n")
	for i := range 1000 {
		b.WriteString(strings.Repeat("1", 1+i%3) + "\n")
	}
	p := writeTemp(t, "n.csv", b.String())
	rows, _, st, err := readAll(t, "csv", p, ReadOptions{Schema: schemaOf(fld("n", tInt32)), BatchRows: 300})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1000 || st.Batches != 4 || st.Rows != 1000 {
		t.Fatalf("rows %d, stats %+v; want 1000 rows in 4 batches", len(rows), st)
	}
}

// TestMultiLineMatchesNaiveSplit checks that the incremental quote tracking
// of multi-line records finds the same records as re-splitting after each
// added line.
func TestMultiLineMatchesNaiveSplit(t *testing.T) {
	alphabet := []byte{'a', ',', '"', '\\', '\n', '"'}
	rng := uint64(1)
	next := func() int { rng = rng*6364136223846793005 + 1442695040888963407; return int(rng >> 33) }
	cfg := csvConfig{sep: ',', quote: '"', escape: '\\', multiLine: true, header: false}
	for range 3000 {
		n := next() % 24
		data := make([]byte, n)
		for i := range data {
			data[i] = alphabet[next()%len(alphabet)]
		}
		// naive
		var want []string
		lines := strings.Split(string(data), "\n")
		if strings.HasSuffix(string(data), "\n") {
			lines = lines[:len(lines)-1]
		}
		np := &csvParser{cfg: cfg}
		for i := 0; i < len(lines); i++ {
			if lines[i] == "" {
				continue
			}
			rec := lines[i]
			err := np.split([]byte(rec))
			for err == errUnterminated && i+1 < len(lines) {
				i++
				rec += "\n" + lines[i]
				err = np.split([]byte(rec))
			}
			want = append(want, rec+"|"+fmtErr(err))
		}
		p := writeTemp(t, "m.csv", string(data))
		var st ReadStats
		lr, err := openLines(p, &st, ByteRange{}, FormatCSV, nil)
		if err != nil {
			t.Fatal(err)
		}
		recs := &csvRecords{lr: lr, p: &csvParser{cfg: cfg}}
		var got []string
		for {
			raw, err := recs.next()
			if err == io.EOF {
				break
			}
			got = append(got, string(raw)+"|"+fmtErr(err))
		}
		lr.close()
		if !slices.Equal(got, want) {
			t.Fatalf("input %q:\n got %q\nwant %q", data, got, want)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func TestReadCSVByteOrderMark(t *testing.T) {
	p := writeTemp(t, "bom.csv", "\xEF\xBB\xBFname,age\nann,3\n")
	rows, _, _, err := readAll(t, "csv", p, ReadOptions{Schema: schemaOf(fld("name", tString), fld("age", tInt64))})
	if err != nil || len(rows) != 1 || rows[0] != "ann|3" {
		t.Fatalf("rows %q, %v", rows, err)
	}
}
