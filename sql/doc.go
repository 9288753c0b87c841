// Package sql translates SQL text into spate's logical plans (package
// plan) over the tables of a [Catalog]. It never executes anything.
package sql
