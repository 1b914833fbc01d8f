import { setTimeout as sleep } from "node:timers/promises"

/** Polls until `check` stops throwing (or returns true), or fails with its last error. */
export const eventually = async <T>(check: () => T | Promise<T>, timeoutMs = 10_000, stepMs = 25): Promise<T> => {
  const until = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < until) {
    try {
      const r = await check()
      if (r !== false) return r
      last = new Error("condition still false")
    } catch (e) {
      last = e
    }
    await sleep(stepMs)
  }
  throw last
}
