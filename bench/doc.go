// Package bench holds spate's benchmarks and their baselines: for every
// workload, the spate pipeline and a hand-written single-threaded Go loop
// that does the same work on the same data.
//
// Every performance claim made from these benchmarks is a ratio measured
// in one run against that baseline; absolute numbers from a shared,
// noisy machine mean little on their own. The benchmarks never assert
// timing. The tests of this package check that each spate pipeline
// computes what its baseline computes.
//
// Set SPATE_BENCH_SHORT=1 to shrink every input 100× (a CI smoke run with
// -benchtime=1x). See README.md for the workloads, the targets, the
// commands and the latest measurements.
//
// Nothing imports this package (archtest keeps bench/ at the top layer).
package bench
