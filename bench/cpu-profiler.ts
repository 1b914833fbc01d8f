import { toggleOnSigusr2 } from "./profiler-toggle.ts"

// Preloaded into a service process by the bench (`--import ./bench/cpu-profiler.ts`):
// SIGUSR2 starts the V8 CPU profiler, the next SIGUSR2 stops it and writes the profile to
// $BENCH_CPU_PROFILE (the same .cpuprofile format as `node --cpu-prof`, but covering only
// the measured window, not start-up).

const out = process.env["BENCH_CPU_PROFILE"]
if (out !== undefined)
  toggleOnSigusr2(
    out,
    (s) => s.post("Profiler.enable", () => s.post("Profiler.setSamplingInterval", { interval: 250 }, () => s.post("Profiler.start"))),
    (s, write) =>
      s.post("Profiler.stop", (err, r) => {
        if (err === null) write(r.profile)
      }),
  )
