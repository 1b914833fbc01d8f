import { PerformanceObserver, constants } from "node:perf_hooks"
import { getHeapStatistics, setFlagsFromString } from "node:v8"

// How far V8 lets the old generation grow past what survived the last full GC before it
// collects again. Left to itself, V8 picks the factor from GC speed against allocation rate
// and grew a blob service hydrating 100,000 actors to about twice its live heap (~850 MiB
// of old space for ~420 MiB live). Those pages are not returned after a full GC: live actors
// sit in nearly every one of them, so the peak stayed as RSS (bench/README.md, memory).
// A smaller factor means more full GCs per write (≈ +40 µs of CPU per 256 B write at 64 in
// flight with 1.5, whatever the heap size), so it only applies while the heap is large
// enough for its size to matter; a small heap keeps V8's own choice.

/**
 * Heap in use after a full GC from which growth is bounded: above what a service serving a
 * few thousand hot blobs holds (57-70 MiB in the bench's write cases), well below 100,000 actors.
 */
export const BOUNDED_GROWTH_ABOVE_BYTES = 96 * 1024 * 1024

/**
 * After every full GC: V8's heap growing factor is 1 + percent/100 while the heap still in use
 * is at least `aboveBytes`, V8's own heuristic below. percent 0 leaves V8's heuristic always.
 * Process-wide (a V8 flag); returns the function that stops following.
 */
export const boundHeapGrowth = (percent: number, aboveBytes = BOUNDED_GROWTH_ABOVE_BYTES): (() => void) => {
  if (!Number.isSafeInteger(percent) || percent <= 0) return () => {}
  let bounded = false
  const observer = new PerformanceObserver((list) => {
    const major = list.getEntries().some((e) => (e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
    if (!major) return
    const large = getHeapStatistics().used_heap_size >= aboveBytes
    if (large === bounded) return
    bounded = large
    setFlagsFromString(`--heap-growing-percent=${large ? percent : 0}`)
  })
  observer.observe({ entryTypes: ["gc"] })
  return () => {
    observer.disconnect()
    if (bounded) setFlagsFromString("--heap-growing-percent=0")
  }
}
