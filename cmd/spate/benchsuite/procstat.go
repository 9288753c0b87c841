package benchsuite

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets the process's peak resident set size (Linux:
// writing 5 to /proc/self/clear_refs), so that each run reports its own
// peak. It reports whether that worked.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS returns VmHWM from /proc/self/status, in bytes, or 0 where it is
// not available.
func peakRSS() int64 {
	return procKB("/proc/self/status", "VmHWM:")
}

// procKB returns the value of the line starting with key in file, a
// number of kB as /proc writes them, in bytes; 0 when there is none.
func procKB(file, key string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(key)); ok {
			if f := bytes.Fields(rest); len(f) >= 1 {
				if kb, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// memAvailable returns MemAvailable from /proc/meminfo, in bytes, or 0
// where it is not available.
func memAvailable() int64 {
	return procKB("/proc/meminfo", "MemAvailable:")
}

// procSnapshot is the process counters a run reports deltas of.
type procSnapshot struct {
	wall      time.Time
	cpu       time.Duration
	gcPause   time.Duration
	gcCycles  uint32
	rssReset  bool
	heapAlloc uint64
}

func takeSnapshot(resetRSS bool) procSnapshot {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := procSnapshot{cpu: processCPU(), gcPause: time.Duration(ms.PauseTotalNs), gcCycles: ms.NumGC, heapAlloc: ms.TotalAlloc}
	if resetRSS {
		// Give the previous run's memory back first, or its resident pages
		// would count as this run's peak.
		debug.FreeOSMemory()
		s.rssReset = resetPeakRSS()
	}
	s.wall = time.Now()
	return s
}
