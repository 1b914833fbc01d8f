/**
 * Version integrity: each blob's final history has no duplicate version and its versions
 * are contiguous and in order; and no version was acknowledged to two distinct writes (a
 * deduplicated retry shares its idempotency key, so it is the same write).
 */
import { type FinalHistories, isModifying, isOk, type Operation, type StreamVersion } from "../history.ts"
import { type CheckerResult, result, type Violation } from "./violation.ts"

const checkStream = (blobId: string, versions: ReadonlyArray<StreamVersion>, out: Violation[]): void => {
  const seen = new Set<number>()
  let previous: number | undefined
  for (const { version } of versions) {
    if (seen.has(version)) out.push({ _tag: "DuplicateVersion", blobId, version, atMs: 0 })
    else if (previous !== undefined && version < previous) out.push({ _tag: "VersionOutOfOrder", blobId, previous, next: version, atMs: 0 })
    else if (previous !== undefined && version > previous + 1) out.push({ _tag: "VersionGap", blobId, after: previous, next: version, atMs: 0 })
    seen.add(version)
    previous = version
  }
}

const checkAcks = (ops: ReadonlyArray<Operation>, out: Violation[]): void => {
  const writers = new Map<string, Operation[]>()
  for (const op of ops) {
    if (!isModifying(op) || !isOk(op)) continue
    const key = `${op.blobId}\u0000${op.outcome.version}`
    writers.set(key, [...(writers.get(key) ?? []), op])
  }
  for (const group of writers.values()) {
    const distinct = new Set(group.map((op) => op.idempotencyKey ?? `op#${op.id}`))
    const first = group[0]
    if (distinct.size <= 1 || first === undefined || !isOk(first)) continue
    out.push({
      _tag: "DuplicateAck",
      blobId: first.blobId,
      version: first.outcome.version,
      opIds: group.map((op) => op.id),
      atMs: Math.max(...group.map((op) => op.endMs)),
    })
  }
}

export const checkVersions = (ops: ReadonlyArray<Operation>, finals: FinalHistories): CheckerResult => {
  const violations: Violation[] = []
  let checked = 0
  for (const [blobId, versions] of finals) {
    checked += versions.length
    checkStream(blobId, versions, violations)
  }
  checkAcks(ops, violations)
  return result("versions", checked, violations)
}
