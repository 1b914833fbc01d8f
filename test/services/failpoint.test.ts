import { describe, expect, it } from "vitest"
import { FailpointSpecError, parseFailpoint } from "../../services/blob-service/failpoint.ts"

// The crash itself is exercised in a process of its own by the fault suite
// (single-node.faults.test.ts, "killed right after an append, before its reply").
describe("parseFailpoint", () => {
  it("is off unless set", () => {
    expect(parseFailpoint(undefined)).toBeUndefined()
    expect(parseFailpoint("")).toBeUndefined()
  })

  it("refuses what it does not know, with a typed error", () => {
    for (const spec of ["crash", "crash-after-append", "crash-after-append:0", "crash-after-append:-1", "crash-after-append:x", "crash-before-append:3"])
      expect(() => parseFailpoint(spec), spec).toThrow(FailpointSpecError)
  })

  it("does nothing before its Nth append", () => {
    const f = parseFailpoint("crash-after-append:1000")!
    for (let i = 0; i < 999; i++) f.afterAppend("a/b", i + 1, `k${i}`)
    expect(process.exitCode ?? 0).toBe(0)
  })
})
