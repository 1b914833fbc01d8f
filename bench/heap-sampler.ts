import { writeFileSync } from "node:fs"
import { Session } from "node:inspector"

// Preloaded like cpu-profiler.ts: SIGUSR2 starts V8's sampling heap profiler (every allocation
// site, collected objects included), the next SIGUSR2 writes $BENCH_HEAP_PROFILE (.heapprofile).
// With BENCH_HEAP_LIVE=1, only the objects still alive when it stops: what the process keeps.
const out = process.env["BENCH_HEAP_PROFILE"]
if (out !== undefined) {
  const session = new Session()
  session.connect()
  let running = false
  process.on("SIGUSR2", () => {
    if (!running) {
      running = true
      session.post("HeapProfiler.startSampling", { samplingInterval: 4096, includeObjectsCollectedByMajorGC: process.env["BENCH_HEAP_LIVE"] !== "1", includeObjectsCollectedByMinorGC: process.env["BENCH_HEAP_LIVE"] !== "1" } as never)
      return
    }
    running = false
    session.post("HeapProfiler.stopSampling", (err, r) => {
      if (err === null) writeFileSync(out, JSON.stringify(r.profile))
    })
  })
}
