import { toggleOnSigusr2 } from "./profiler-toggle.ts"

// Preloaded like cpu-profiler.ts: SIGUSR2 starts V8's sampling heap profiler (every allocation
// site, collected objects included), the next SIGUSR2 writes $BENCH_HEAP_PROFILE (.heapprofile).
// With BENCH_HEAP_LIVE=1, only the objects still alive when it stops: what the process keeps.

const out = process.env["BENCH_HEAP_PROFILE"]
const collectedToo = process.env["BENCH_HEAP_LIVE"] !== "1"
if (out !== undefined)
  toggleOnSigusr2(
    out,
    (s) =>
      // The flags are newer than @types/node's protocol definitions.
      s.post("HeapProfiler.startSampling", { samplingInterval: 4096, includeObjectsCollectedByMajorGC: collectedToo, includeObjectsCollectedByMinorGC: collectedToo } as never),
    (s, write) =>
      s.post("HeapProfiler.stopSampling", (err, r) => {
        if (err === null) write(r.profile)
      }),
  )
