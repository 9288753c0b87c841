// Package plan holds spate's logical query plans: the operators of a
// DataFrame query, their analysis against schemas, and the optimizer.
//
// # Nodes
//
// [Scan] (of a [Source]: files, connectors), [LocalRelation] (batches in
// memory), [Project], [Filter], [Aggregate], [Sort], [Limit], [Join]
// (inner, left, right, full outer, left semi, left anti; equality keys
// plus an optional residual condition), [Union] (by position), [SetOp]
// (INTERSECT and EXCEPT, DISTINCT or ALL, by position; nulls compare equal)
// and [Deduplicate] (Distinct, DropDuplicates), [SubqueryAlias] (df.Alias:
// columns can be referred to as "alias.column", recorded in field
// metadata) and [BroadcastHint].
//
// # Invariants
//
// Nodes are immutable and analysed when they are made: every constructor
// (NewFilter, NewJoin, ...) resolves its expressions against its inputs'
// schemas and returns an error wrapping [ErrPlan] that says what to change
// (an unknown column lists the available ones; an aggregate in a
// projection points to GroupBy). So a node that exists is valid, and
// WithChildren, which rebuilds through the constructor, re-analyses it.
// [Analyze] re-checks a whole tree.
//
// # Optimizer
//
// Rules are values implementing [Rule]; an [Optimizer] runs its list
// until the plan stops changing. [DefaultRules]: [ConstantFolding]
// (expressions without columns become literals; AND/OR with a constant
// side simplify; a filter on true disappears), [CombineFilters],
// [PushDownPredicates] (below projections by substitution, sorts, unions,
// both inputs of a set operation, the sides of joins where the join type
// allows, aggregations for predicates on grouping columns, distinct, and
// into scans whose Source implements [FilterSupport]; the filter stays above the scan because a
// source may only skip data coarsely), [PushDownJoinConditions],
// [CollapseProject] and [PruneColumns] (scans read only the columns used).
// [Explain] prints a tree, one node per line.
package plan
