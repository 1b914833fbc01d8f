/**
 * What the next operation is: which kind (by the scenario's weights) on which key (by its
 * distribution). The live runner and the deterministic simulator draw from the same
 * generator, so a scenario means the same workload in both.
 */
import { makeKeyChooser, keyName, type KeyChooser } from "./generators/key-chooser.ts"
import type { Rng } from "./generators/rng.ts"
import { OPERATION_NAMES, type OperationName, type Scenario } from "./scenario.ts"

export interface Step {
  readonly op: OperationName
  readonly keyIndex: number
  readonly blobId: string
}

export interface Workload {
  readonly next: () => Step
  /** Every key of the initial key space (the preload writes each once). */
  readonly initialKeys: () => ReadonlyArray<Step>
}

const chooseOperation = (rng: Rng, weights: ReadonlyArray<number>, total: number): OperationName => {
  let u = rng.nextFloat() * total
  for (let i = 0; i < OPERATION_NAMES.length; i++) {
    u -= weights[i] ?? 0
    if (u < 0) return OPERATION_NAMES[i] ?? "read"
  }
  return OPERATION_NAMES[OPERATION_NAMES.length - 1] ?? "read"
}

export const makeWorkload = (scenario: Scenario, rng: Rng): Workload => {
  const keys: KeyChooser = makeKeyChooser(scenario.keys.distribution, scenario.keys.count, rng.fork())
  const weights = OPERATION_NAMES.map((name) => scenario.operations[name])
  const total = weights.reduce((a, b) => a + b, 0)
  // One string per key, not per operation: the history keeps every operation's blob id.
  const names: string[] = []
  const name = (index: number): string => (names[index] ??= keyName(scenario.keys.prefix, index))
  const next = (): Step => {
    const op = chooseOperation(rng, weights, total)
    const keyIndex = op === "insert" ? keys.insert() : keys.next()
    return { op, keyIndex, blobId: name(keyIndex) }
  }
  const initialKeys = (): ReadonlyArray<Step> =>
    Array.from({ length: scenario.keys.count }, (_, keyIndex) => ({ op: "write" as const, keyIndex, blobId: name(keyIndex) }))
  return { next, initialKeys }
}
