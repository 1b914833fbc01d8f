/**
 * No acknowledged write lost: every modification a client was told succeeded must be in
 * the blob's final stream history with the version and digest it was acknowledged with.
 */
import { type FinalHistories, isModifying, isOk, type Operation } from "../history.ts"
import { type CheckerResult, result, type Violation } from "./violation.ts"

export const checkLostWrites = (ops: ReadonlyArray<Operation>, finals: FinalHistories): CheckerResult => {
  const stored = new Map<string, Map<number, string>>()
  for (const [blobId, versions] of finals) stored.set(blobId, new Map(versions.map((v) => [v.version, v.digest])))
  const violations: Violation[] = []
  let checked = 0
  for (const op of ops) {
    if (!isModifying(op) || !isOk(op)) continue
    checked++
    const storedDigest = stored.get(op.blobId)?.get(op.outcome.version)
    if (storedDigest === op.outcome.digest) continue
    violations.push({
      _tag: "LostWrite",
      blobId: op.blobId,
      opId: op.id,
      version: op.outcome.version,
      digest: op.outcome.digest,
      storedDigest,
      atMs: op.endMs,
    })
  }
  return result("lost-writes", checked, violations)
}
