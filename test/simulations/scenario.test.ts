import { readdirSync } from "node:fs"
import { join } from "node:path"
import * as E from "fp-ts/lib/Either.js"
import { describe, expect, it } from "vitest"
import { formatScenarioError, loadScenario, parseScenario, type Scenario } from "../../simulations/scenario.ts"

const BASE = `
seed: 1
durationSec: 10
arrival: { mode: open, process: poisson, ratePerSec: 100 }
maxInFlight: 10
keys: { count: 100, distribution: zipfian }
operations: { read: 1, write: 1 }
`

const errorsOf = (text: string): string[] => {
  const result = parseScenario(text, "s.yaml")
  return E.isLeft(result) ? result.left.map(formatScenarioError) : []
}

const scenarioOf = (text: string): Scenario => {
  const result = parseScenario(text, "s.yaml")
  if (E.isLeft(result)) throw new Error(result.left.map(formatScenarioError).join("\n"))
  return result.right
}

describe("scenario validation", () => {
  it("accepts a minimal scenario and fills defaults", () => {
    const s = scenarioOf(BASE)
    expect(s.name).toBe("s")
    expect(s.keys.distribution).toEqual({ kind: "zipfian", constant: 0.99, scrambled: true })
    expect(s.reads.consistency).toBe("shadow")
    expect(s.operations.delete).toBe(0)
  })

  it("names the field and the allowed values for an unknown distribution", () => {
    const errors = errorsOf(BASE.replace("distribution: zipfian", "distribution: zipf"))
    expect(errors).toEqual([`s.yaml: keys.distribution: expected one of uniform|zipfian|latest|hotspot, got "zipf"`])
  })

  it("names missing required fields", () => {
    expect(errorsOf(BASE.replace("seed: 1\n", ""))).toEqual(["s.yaml: seed: is required but missing"])
    expect(errorsOf(BASE.replace(", ratePerSec: 100", ""))).toEqual(["s.yaml: arrival.ratePerSec: is required but missing"])
  })

  it("reports a misspelt field with a suggestion instead of ignoring it", () => {
    expect(errorsOf(BASE.replace("{ read: 1, write: 1 }", "{ read: 1, wirte: 1 }"))).toEqual([
      `s.yaml: operations.wirte: unknown field (did you mean "write"?)`,
    ])
  })

  it("names out-of-range numbers with their bounds", () => {
    expect(errorsOf(BASE.replace("maxInFlight: 10", "maxInFlight: 0.5"))).toEqual([
      "s.yaml: maxInFlight: expected a whole number >= 1 and <= 1000000, got 0.5",
    ])
    expect(errorsOf(`${BASE}reads: { minConfidence: 1.5 }\n`)).toEqual([
      "s.yaml: reads.minConfidence: expected a number >= 0 and <= 1, got 1.5",
    ])
  })

  it("reports every mistake at once, with list indices in the path", () => {
    const text = `${BASE}faults:\n  - { kind: pause-nats, atSec: 1 }\n  - { kind: kill-service, atSec: 2, service: db }\nexpect: [confict]\n`
    expect(errorsOf(text)).toEqual([
      "s.yaml: faults[0].durationSec: is required but missing",
      "s.yaml: faults[1].service: expected one of blob-service|predictor|reconciler, got \"db\"",
      "s.yaml: expect[0]: expected one of conflict|dedup-retry|indeterminate|shadow-hit|shadow-miss|stale-read|not-found|fault-recovered, got \"confict\"",
    ])
  })

  it("checks fields against each other", () => {
    expect(errorsOf(`${BASE}warmupSec: 10\n`)).toEqual(["s.yaml: warmupSec: must be less than durationSec (10), got 10"])
    expect(errorsOf(`${BASE}phases: [{ atSec: 5, ratePerSec: 1 }, { atSec: 4, ratePerSec: 2 }]\n`)).toEqual([
      "s.yaml: phases[1].atSec: phases must be in increasing time order, got 4 after 5",
    ])
    expect(errorsOf(`${BASE}expect: [conflict]\n`)).toEqual([
      `s.yaml: expect[0]: "conflict" cannot happen without operations.conditionalWrite, readModifyWrite or insert`,
    ])
    expect(errorsOf(BASE.replace("mode: open, process: poisson", "mode: closed, clients: 5"))).toEqual([
      "s.yaml: arrival.ratePerSec: only applies to mode: open (this arrival is closed)",
    ])
  })

  it("rejects a key prefix that cannot be part of a blob id", () => {
    const errors = errorsOf(BASE.replace("count: 100,", `count: 100, prefix: "a.b",`))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^s\.yaml: keys\.prefix: must use only .* got "a\.b"$/)
  })

  it("reports YAML syntax errors with a line and column", () => {
    const errors = errorsOf("seed: 1\nkeys: [1, 2\n")
    expect(errors[0]).toMatch(/^s\.yaml:\d+:\d+: /)
  })
})

describe("shipped scenarios", () => {
  const dir = join(import.meta.dirname, "../../simulations/scenarios")
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml") || f.endsWith(".json"))

  it("include the scenarios the issue asks for", () => {
    for (const name of ["ycsb-a", "ycsb-b", "ycsb-c", "ycsb-d", "ycsb-f", "structured-mix", "hot-key-storm", "cold-start", "thundering-herd", "smoke"]) {
      expect(files).toContain(`${name}.yaml`)
    }
  })

  it.each(files)("%s validates", async (file) => {
    const result = await loadScenario(join(dir, file))
    expect(E.isLeft(result) ? result.left.map(formatScenarioError) : []).toEqual([])
  })

  it("hot-key-storm has 1,000+ writers on 10 blobs and smoke runs in about 3 seconds", async () => {
    const storm = await loadScenario(join(dir, "hot-key-storm.yaml"))
    const smoke = await loadScenario(join(dir, "smoke.yaml"))
    if (E.isLeft(storm) || E.isLeft(smoke)) throw new Error("scenario invalid")
    expect(storm.right.arrival).toMatchObject({ mode: "closed" })
    expect(storm.right.arrival.mode === "closed" && storm.right.arrival.clients).toBeGreaterThanOrEqual(1000)
    expect(storm.right.keys.count).toBe(10)
    expect(smoke.right.durationSec).toBeLessThanOrEqual(3)
  })

  it("reports an unreadable file as a read error", async () => {
    const result = await loadScenario(join(dir, "does-not-exist.yaml"))
    expect(E.isLeft(result) && result.left[0]?._tag).toBe("ScenarioReadError")
  })
})
