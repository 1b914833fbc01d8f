import type { NatsConnection } from "@nats-io/nats-core"
import { describe, expect, it } from "vitest"
import { AccessLog, ServedCounter, type AccessFacts } from "../../services/blob-service/access-log.ts"
import { defaultNames } from "../../infra/names.ts"

// The access facts one interval publishes: reads and writes per blob, shadow-served reads per
// `<id>@<shadow version>` (what the reconciler and the predictor learn from), and the heat
// that shadow eviction uses.

const capture = () => {
  const published: Array<{ subject: string; facts: AccessFacts }> = []
  const nc = { publish: (subject: string, data: string) => void published.push({ subject, facts: JSON.parse(data) as AccessFacts }) }
  return { nc: nc as unknown as NatsConnection, published }
}

describe("AccessLog", () => {
  it("counts reads, writes and shadow-served reads per interval", () => {
    const { nc, published } = capture()
    const log = new AccessLog("blob-1", 100)
    const [a7, a9, b3] = [new ServedCounter("a", 7), new ServedCounter("a", 9), new ServedCounter("b", 3)]
    log.read("a")
    log.servedBy(a7)
    log.servedBy(a7)
    log.servedBy(a9) // a newer shadow arrived within the interval
    log.servedBy(b3)
    log.write("a")
    log.write("c")
    log.read("__proto__")
    log.flush(nc, defaultNames)
    expect(published).toHaveLength(1)
    const f = published[0]?.facts
    expect(published[0]?.subject).toBe(`${defaultNames.accessSubject}.blob-1`)
    expect(f?.instance).toBe("blob-1")
    expect(f?.reads).toEqual({ a: 4, b: 1, ["__proto__"]: 1 })
    expect(Object.keys(f?.reads ?? {})).toContain("__proto__")
    expect(f?.writes).toEqual({ a: 1, c: 1 })
    expect(f?.served).toEqual({ "a@7": 2, "a@9": 1, "b@3": 1 })
    expect(log.heat("a")).toBe(4)
  })

  it("starts every interval from zero, publishes nothing for an empty one, and halves heat", () => {
    const { nc, published } = capture()
    const log = new AccessLog("i", 100)
    const x1 = new ServedCounter("x", 1)
    for (let n = 0; n < 8; n++) log.servedBy(x1)
    log.flush(nc, defaultNames)
    log.flush(nc, defaultNames)
    expect(published).toHaveLength(1)
    expect(log.heat("x")).toBe(4)
    log.servedBy(x1)
    log.flush(nc, defaultNames)
    expect(published[1]?.facts.served).toEqual({ "x@1": 1 })
    expect(published[1]?.facts.fromMs).toBeGreaterThanOrEqual(published[0]?.facts.toMs ?? Infinity)
    expect(log.heat("x")).toBe(3)
  })

  it("keeps at most maxKeys blobs of each kind per interval", () => {
    const { nc, published } = capture()
    const log = new AccessLog("i", 2)
    for (const id of ["a", "b", "c"]) log.read(id)
    for (const id of ["c", "d", "e"]) log.write(id)
    for (const v of [1, 2, 3]) log.servedBy(new ServedCounter("s", v))
    log.read("a")
    log.flush(nc, defaultNames)
    const f = published[0]?.facts
    expect(f?.reads).toEqual({ a: 2, b: 1 })
    expect(f?.writes).toEqual({ c: 1, d: 1 })
    expect(f?.served).toEqual({ "s@1": 1, "s@2": 1 })
  })

  it("counts hits kept beside their shadows; two counters of one shadow version add up", () => {
    const { nc, published } = capture()
    const log = new AccessLog("i", 3)
    const a7 = new ServedCounter("a", 7)
    const b3 = new ServedCounter("b", 3)
    log.read("a")
    log.servedBy(a7)
    log.servedBy(a7)
    log.servedBy(new ServedCounter("a", 7)) // another shadow object of the same version (e.g. decoded again)
    log.servedBy(b3)
    log.flush(nc, defaultNames)
    expect(published[0]?.facts.reads).toEqual({ a: 4, b: 1 })
    expect(published[0]?.facts.served).toEqual({ "a@7": 3, "b@3": 1 })
    expect(log.heat("a")).toBe(4)
    // Next interval: the counters start again from zero; caps hold for them too.
    log.servedBy(b3)
    for (const id of ["c", "d", "e"]) log.servedBy(new ServedCounter(id, 1))
    log.flush(nc, defaultNames)
    expect(published[1]?.facts.reads).toEqual({ b: 1, c: 1, d: 1 })
    expect(published[1]?.facts.served).toEqual({ "b@3": 1, "c@1": 1, "d@1": 1 })
    log.flush(nc, defaultNames)
    expect(published).toHaveLength(2)
  })
})
