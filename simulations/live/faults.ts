/**
 * The scenario's faults, done for real to the processes the runner started: SIGKILL and a
 * restart of nats-server, SIGSTOP/SIGCONT of it, SIGKILL and a restart of a service. A
 * fault the runner cannot do (the server is not its own, the service is not running) is
 * reported as skipped rather than silently left out.
 */
import type { FaultPeriod } from "../report.ts"
import type { Fault } from "../scenario.ts"
import type { LiveStack } from "./stack.ts"

export interface FaultRunner {
  /** Periods as they actually happened, on the run's clock. */
  readonly periods: () => FaultPeriod[]
  readonly cancel: () => void
  /** Waits for restarts still in progress (so the stack is whole before the history read-back). */
  readonly settled: () => Promise<void>
}

const wait = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms))

const perform = async (f: Fault, stack: LiveStack, note: (line: string) => void): Promise<string> => {
  switch (f.kind) {
    case "kill-nats": {
      if (stack.server === undefined) return "kill NATS (skipped: not the runner's server)"
      stack.server.signal("SIGKILL")
      await wait(f.restartAfterSec * 1000)
      await stack.server.restart()
      return "kill NATS"
    }
    case "pause-nats": {
      if (stack.server === undefined) return "pause NATS (skipped: not the runner's server)"
      await stack.server.pause()
      await wait(f.durationSec * 1000)
      stack.server.signal("SIGCONT")
      return "pause NATS"
    }
    case "kill-service": {
      const service = stack.services.get(f.service)
      if (service === undefined) return `kill ${f.service} (skipped: not running)`
      service.kill("SIGKILL")
      await wait(f.restartAfterSec * 1000)
      await service.restart().catch((e: unknown) => note(`restart of ${f.service} failed: ${String(e)}`))
      return `kill ${f.service}`
    }
  }
}

export const scheduleFaults = (
  faults: ReadonlyArray<Fault>,
  stack: LiveStack,
  nowMs: () => number,
  note: (line: string) => void,
): FaultRunner => {
  const periods: FaultPeriod[] = []
  const running: Promise<void>[] = []
  const timers = faults.map((f) =>
    setTimeout(() => {
      const startSec = nowMs() / 1000
      note(`fault: ${f.kind} at ${startSec.toFixed(1)}s`)
      running.push(
        perform(f, stack, note).then(
          (label) => void periods.push({ kind: f.kind, label, startSec, endSec: nowMs() / 1000 }),
          (e: unknown) => note(`fault ${f.kind} failed: ${String(e)}`),
        ),
      )
    }, Math.max(0, f.atSec * 1000 - nowMs())),
  )
  return {
    periods: () => [...periods].sort((a, b) => a.startSec - b.startSec),
    cancel: () => timers.forEach(clearTimeout),
    settled: async () => void (await Promise.all(running)),
  }
}
