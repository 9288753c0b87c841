// Package archtest holds a test that keeps the dependency direction of
// DESIGN.md ("Layout and dependency direction") true of the real import
// graph. It has no API; `go test ./internal/archtest` is the check.
//
// # The rule
//
// Every package of the module sits on a layer, L0 (clock, metrics,
// internal/...) up to L6 (ui, cmd/...), with examples/ and bench/ above all
// of them. A package may import only module packages on its own or a lower
// layer. The test lists the module with `go list -e -json ./...` and checks
// the imports of each package's own files, of its in-package _test.go files
// and of its external test package (package x_test); imports from the
// standard library and third-party modules are not checked.
//
// Two narrower rules come on top, for a package's own files and in-package
// tests (an external test package obeys only the layer rule):
//   - ui imports only metrics and internal/... from the module;
//   - connector sub-packages (connector/kafka, ...) never import engine,
//     rdd, dstream, exec or dataframe.
//
// Packages under examples/ and bench/ may import anything, and nothing may
// import them.
//
// # Adding a package
//
// The layer of a package comes from the longest prefix in the table in
// layers.go that matches its path relative to the module root, by whole path
// segments ("rdd" covers rdd and rdd/x, not rddx; "connector/" covers the
// sub-packages of connector but not connector itself). A sub-package of a
// listed directory inherits its layer and needs no change. A package that
// matches no row fails the test: add a row to the layers table here and to
// the layout table in DESIGN.md, choosing the lowest layer whose packages it
// needs. If the test reports an upward import, move the code down or turn
// the dependency around (an interface on the lower layer, implemented above),
// rather than raising the importer's layer.
package archtest
