import { describe, expect, it } from "vitest"
import { pausesOf, slowWritesOf } from "../../bench/gc-timeline.ts"

// The bench's tail diagnostics read V8's --trace-gc lines as the bench stamped them.
describe("gc-timeline", () => {
  it("reads scavenges and mark-compacts with their pause, and nothing else", () => {
    const log = [
      "1796588280106 [11976:0x369e7ea0]       74 ms: Scavenge 4.6 (4.7) -> 4.2 (5.7) MB, 2.58 / 0.00 ms  (average mu = 1.000, current mu = 1.000) allocation failure; ",
      "1796588280547 [11976:0x369e7ea0]      517 ms: Mark-Compact 14.4 (29.1) -> 12.2 (30.3) MB, 7.83 / 0.01 ms  (+ 0.1 ms in 1 steps since start of marking) (average mu = 1.000",
      "1796588280600 umbra reconciler ready",
      "",
    ].join("\n")
    expect(pausesOf(log)).toEqual([
      { endMs: 1796588280106, ms: 2.58, kind: "scavenge" },
      { endMs: 1796588280547, ms: 7.83, kind: "mark" },
    ])
  })

  it("reads the slow writes the reconciler case wrote", () => {
    expect(slowWritesOf("1796588305711 ack 155 lat/12\n1796588312700 verdict 185 lat/3@7\n")).toEqual([
      { atMs: 1796588305711, ms: 155, what: "ack" },
      { atMs: 1796588312700, ms: 185, what: "verdict" },
    ])
  })
})
