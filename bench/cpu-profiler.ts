import { writeFileSync } from "node:fs"
import { Session } from "node:inspector"

// Preloaded into a service process by the bench (`--import ./bench/cpu-profiler.ts`):
// SIGUSR2 starts the V8 CPU profiler, the next SIGUSR2 stops it and writes the profile to
// $BENCH_CPU_PROFILE (the same .cpuprofile format as `node --cpu-prof`, but covering only
// the measured window, not start-up).

const out = process.env["BENCH_CPU_PROFILE"]
if (out !== undefined) {
  const session = new Session()
  session.connect()
  let running = false
  process.on("SIGUSR2", () => {
    if (!running) {
      running = true
      session.post("Profiler.enable", () =>
        session.post("Profiler.setSamplingInterval", { interval: 250 }, () => session.post("Profiler.start")),
      )
      return
    }
    running = false
    session.post("Profiler.stop", (err, r) => {
      if (err === null) writeFileSync(out, JSON.stringify(r.profile))
    })
  })
}
