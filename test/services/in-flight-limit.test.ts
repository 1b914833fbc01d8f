import { describe, expect, it } from "vitest"
import { InFlightLimit } from "../../services/blob-service/in-flight-limit.ts"

const deferred = () => {
  let resolve!: () => void
  let reject!: (e: Error) => void
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)))
  return { promise, resolve, reject }
}

describe("InFlightLimit", () => {
  it("runs up to max at once, sheds the rest at once, and frees room when work ends either way", async () => {
    const limit = new InFlightLimit(2)
    const a = deferred()
    const b = deferred()
    const ra = limit.run(() => a.promise.then(() => "a"), () => "full")
    const rb = limit.run(() => b.promise.then(() => "b"), () => "full")
    expect(limit.run(() => Promise.resolve("c"), () => "full")).toBe("full")
    expect(limit.inFlight).toBe(2)
    a.resolve()
    expect(await ra).toBe("a")
    expect(limit.inFlight).toBe(1)
    b.reject(new Error("boom"))
    await expect(rb).rejects.toThrow("boom")
    expect(limit.inFlight).toBe(0)
    expect(await limit.run(() => Promise.resolve("d"), () => "full")).toBe("d")
  })

  it("frees its room when the work throws before returning a promise", () => {
    const limit = new InFlightLimit(1)
    expect(() => limit.run(() => { throw new Error("sync") }, () => "full")).toThrow("sync")
    expect(limit.inFlight).toBe(0)
  })
})
