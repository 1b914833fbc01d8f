import { describe, expect, it } from "vitest"
import { measuredRunsOf, overlaps, pausesOf } from "../../bench/gc-timeline.ts"

// The bench's tail diagnostics: GC pauses as each process logged them, and the reconciler
// case's measured window and slow writes.
describe("gc-timeline", () => {
  it("reads the pauses a process logged among its other output", () => {
    const log = ["umbra reconciler ready", "umbra-gc 1796588280106.5 2.58 scavenge", "umbra-gc 1796588280547.0 27.83 mark", "", "umbra-gc broken"].join("\n")
    expect(pausesOf(log)).toEqual([
      { startMs: 1796588280106.5, ms: 2.58, kind: "scavenge" },
      { startMs: 1796588280547, ms: 27.83, kind: "mark" },
    ])
  })

  it("reads each run's measured window and its slow writes", () => {
    const log = [
      "1796588299000 ack 70 lat/1",
      "window 1796588300000 1796588315000",
      "1796588305711 ack 155 lat/12",
      "1796588312700 verdict 185 lat/3@7",
      "window 1796588330000 1796588345000",
      "1796588331000 verdict 60 lat/9@2",
      "",
    ].join("\n")
    expect(measuredRunsOf(log)).toEqual([
      {
        window: { fromMs: 1796588300000, toMs: 1796588315000 },
        writes: [
          { atMs: 1796588305711, ms: 155, what: "ack" },
          { atMs: 1796588312700, ms: 185, what: "verdict" },
        ],
      },
      { window: { fromMs: 1796588330000, toMs: 1796588345000 }, writes: [{ atMs: 1796588331000, ms: 60, what: "verdict" }] },
    ])
    expect(measuredRunsOf("1796588299000 ack 70 lat/1\n")).toEqual([])
  })

  it("counts a pause as overlapping an interval it touches, and not one it misses", () => {
    const pauses = [{ startMs: 1_000, ms: 30, kind: "scavenge" }]
    expect(overlaps(900, 1_000, pauses)).toBe(true)
    expect(overlaps(1_030, 1_200, pauses)).toBe(true)
    expect(overlaps(1_010, 1_020, pauses)).toBe(true)
    expect(overlaps(800, 999, pauses)).toBe(false)
    expect(overlaps(1_031, 1_200, pauses)).toBe(false)
  })
})
