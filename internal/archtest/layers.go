package archtest

import (
	"fmt"
	"sort"
	"strings"
)

// unrestricted is the layer of runnable programs (examples/, bench/): they
// may import any package of the module, and nothing may import them.
const unrestricted = 7

// layer assigns a layer to every package whose path, relative to the module
// root, starts with prefix. Matching is by whole path segments: "rdd" matches
// rdd and rdd/x but not rddx. A prefix ending in "/" matches only packages
// below that directory, not the directory's own package: "connector/" is the
// connector sub-packages, "connector" is the contract package itself.
type layer struct {
	prefix string
	level  int
}

// layers is the layout table of DESIGN.md ("Layout and dependency
// direction"). The longest matching prefix wins. A new top-level package (or
// a sub-package that belongs on another layer than its parent) needs a row
// here and in DESIGN.md; the test fails until it has one.
var layers = []layer{
	{"clock", 0},
	{"metrics", 0},
	{"internal", 0}, // atomic file writes, codecs, test helpers, archtest

	{"engine", 1},

	{"rdd", 2},
	{"checkpoint", 2},
	{"state", 2},
	{"connector", 2}, // the plugin contract only

	{"connector/", 3}, // connector/kafka, connector/file, ...
	{"dstream", 3},
	{"expr", 3},
	{"plan", 3},

	{"exec", 4},
	{"sql", 4},

	{"dataframe", 5},
	{"streaming", 5}, // the Structured Streaming engine under dataframe's ReadStream/WriteStream

	{"ui", 6},
	{"cmd", 6},

	{"examples", unrestricted},
	{"bench", unrestricted},
}

// restriction narrows what the packages matching importer (same matching as
// [layer]) may import from the module, on top of the layer rule. If allow is
// non-nil, only module packages matching one of its prefixes may be imported;
// module packages matching a prefix of deny may never be imported.
// Restrictions apply to a package's own files and its in-package tests, not
// to its external test package (package x_test), which only obeys the layer
// rule.
type restriction struct {
	importer string
	allow    []string
	deny     []string
	why      string
}

var restrictions = []restriction{
	{
		importer: "ui",
		allow:    []string{"ui", "metrics", "internal"},
		why:      "ui may import only metrics and internal packages of the module: it is fed only by metrics events (DESIGN.md)",
	},
	{
		importer: "connector/",
		deny:     []string{"engine", "rdd", "dstream", "exec", "dataframe"},
		why:      "connector sub-packages import only connector and lower layers, never engine, rdd, dstream, exec or dataframe (DESIGN.md)",
	},
}

// matches reports whether the module-relative path rel falls under prefix,
// by whole path segments.
func matches(rel, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(rel, prefix) && len(rel) > len(prefix)
	}
	return rel == prefix || strings.HasPrefix(rel, prefix+"/")
}

// layerOf returns the layer of the module-relative package path rel, from
// the longest matching prefix of [layers]; ok is false if no prefix matches.
func layerOf(rel string) (level int, ok bool) {
	best := -1
	for _, l := range layers {
		if matches(rel, l.prefix) && len(l.prefix) > best {
			best, level, ok = len(l.prefix), l.level, true
		}
	}
	return level, ok
}

func matchesAny(rel string, prefixes []string) bool {
	for _, p := range prefixes {
		if matches(rel, p) {
			return true
		}
	}
	return false
}

// pkgInfo is the part of `go list -json` output the rule needs.
type pkgInfo struct {
	ImportPath   string
	Imports      []string // imports of the package's non-test files
	TestImports  []string // imports of its in-package _test.go files
	XTestImports []string // imports of its external test package (x_test)
}

// importKind says which files of a package an import comes from.
type importKind int

const (
	fromPackage importKind = iota
	fromTest
	fromXTest
)

func (k importKind) String() string {
	switch k {
	case fromTest:
		return " in its _test.go files"
	case fromXTest:
		return " in its external test package"
	}
	return ""
}

// relPath returns path relative to the module root (the module's root
// package is "."), and whether path belongs to module at all.
func relPath(module, path string) (string, bool) {
	if path == module {
		return ".", true
	}
	if rel, ok := strings.CutPrefix(path, module+"/"); ok {
		return rel, true
	}
	return "", false
}

// violations checks the import edges of pkgs, packages of module, against
// the layer table and the restrictions, and returns one message per broken
// edge or unknown package, sorted. Imports from outside the module (the
// standard library, third-party modules) are not checked.
func violations(module string, pkgs []pkgInfo) []string {
	var out []string
	unknown := map[string]bool{}
	levelOf := func(rel string) (int, bool) {
		l, ok := layerOf(rel)
		if !ok && !unknown[rel] {
			unknown[rel] = true
			out = append(out, fmt.Sprintf("package %s matches no entry of the layer table: "+
				"add it to the table in internal/archtest/layers.go and to the layout table in DESIGN.md", rel))
		}
		return l, ok
	}

	for _, p := range pkgs {
		from, ok := relPath(module, p.ImportPath)
		if !ok {
			continue
		}
		fromLevel, ok := levelOf(from)
		if !ok || fromLevel == unrestricted {
			continue
		}
		for _, edges := range []struct {
			kind    importKind
			imports []string
		}{
			{fromPackage, p.Imports},
			{fromTest, p.TestImports},
			{fromXTest, p.XTestImports},
		} {
			for _, imp := range edges.imports {
				to, ok := relPath(module, imp)
				if !ok || to == from {
					continue
				}
				toLevel, ok := levelOf(to)
				if !ok {
					continue
				}
				if toLevel > fromLevel {
					out = append(out, fmt.Sprintf("%s (L%d) imports %s (L%d)%s: "+
						"a package may import only packages on its own or a lower layer (DESIGN.md)",
						from, fromLevel, to, toLevel, edges.kind))
					continue
				}
				if edges.kind == fromXTest {
					continue
				}
				for _, r := range restrictions {
					if !matches(from, r.importer) {
						continue
					}
					if (r.allow != nil && !matchesAny(to, r.allow)) || matchesAny(to, r.deny) {
						out = append(out, fmt.Sprintf("%s (L%d) imports %s (L%d)%s: %s",
							from, fromLevel, to, toLevel, edges.kind, r.why))
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
