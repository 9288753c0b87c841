package kafka

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the option tables in doc.go")

// TestDocTables keeps the option tables of doc.go equal to the specs they
// are generated from; go test -run TestDocTables -rewrite regenerates them.
func TestDocTables(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, tab := range []struct{ name, md string }{{"source", SourceSpec().Markdown()}, {"sink", SinkSpec().Markdown()}} {
		var block strings.Builder
		for _, line := range strings.Split(strings.TrimRight(tab.md, "\n"), "\n") {
			block.WriteString("//\t" + line + "\n")
		}
		re := regexp.MustCompile(`(?s)// <` + tab.name + ` options>\n.*?// </` + tab.name + ` options>`)
		if !re.MatchString(doc) {
			t.Fatalf("doc.go lacks the <%s options> markers", tab.name)
		}
		want := re.ReplaceAllLiteralString(doc, "// <"+tab.name+" options>\n//\n"+block.String()+"//\n// </"+tab.name+" options>")
		if want != doc {
			if !*rewrite {
				t.Fatalf("the %s options table in doc.go is stale; run go test -run TestDocTables -rewrite", tab.name)
			}
			doc = want
		}
	}
	if *rewrite {
		if err := os.WriteFile("doc.go", []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
