import { describe, expect, it } from "vitest"
import { parseNodeFlags } from "../../bench/processes.ts"

// BENCH_CHILD_NODE_FLAGS: extra node flags for every service process the bench starts.
describe("parseNodeFlags", () => {
  it("splits flags on whitespace", () => {
    expect(parseNodeFlags(" --max-semi-space-size=16  --no-allocation-site-pretenuring ")).toEqual(["--max-semi-space-size=16", "--no-allocation-site-pretenuring"])
    expect(parseNodeFlags("")).toEqual([])
  })

  it("takes a JSON array when a flag's value holds a space", () => {
    expect(parseNodeFlags('["--title=umbra blob", "--trace-gc"]')).toEqual(["--title=umbra blob", "--trace-gc"])
  })

  it("refuses a JSON value that is not an array of strings", () => {
    expect(() => parseNodeFlags('["--trace-gc", 3]')).toThrow(/JSON array of strings/)
    expect(() => parseNodeFlags("[--trace-gc")).toThrow()
  })
})
