/**
 * Closing indeterminate modifications with the blob's final stream history. Every append is
 * a version of the stream, so a version no acknowledged modification claims was made by an
 * indeterminate one: matched by its idempotency key (or, lacking one, a write's unique
 * digest), that operation becomes "acknowledged at infinity" with the stored version and
 * digest; once every unclaimed version is matched, the unmatched ones never took effect
 * and are dropped (placing one last in the generic search is the same thing).
 *
 * This only narrows the model's choices (an indeterminate op may take effect anywhere after
 * its start, or never; here it took effect exactly where the stream says), so anything the
 * version chain then accepts the generic search accepts too. Any doubt — an unmatched
 * version, two candidates, a stored digest that is not what the write sent — leaves the
 * operations as they were.
 */
import { isModifying, type Operation, type StreamVersion } from "../history.ts"

/** A stream entry as `blob.cmd.history` lists it; the key is what ties it to a request. */
export interface StoredVersion extends StreamVersion {
  readonly idempotencyKey?: string
}

const isIndeterminate = (op: Operation): boolean => isModifying(op) && op.outcome._tag === "Indeterminate"

const matches = (op: Operation, v: StoredVersion): boolean => {
  if (v.idempotencyKey !== undefined) {
    return op.idempotencyKey === v.idempotencyKey && (op.kind !== "write" || op.writeDigest === v.digest)
  }
  return op.kind === "write" && op.writeDigest === v.digest
}

/** Which indeterminate op made each unclaimed version; undefined when any match is in doubt. */
const assign = (pending: ReadonlyArray<Operation>, unclaimed: ReadonlyArray<StoredVersion>): Map<Operation, StoredVersion> | undefined => {
  const made = new Map<Operation, StoredVersion>()
  for (const v of unclaimed) {
    const candidates = pending.filter((op) => matches(op, v))
    const op = candidates[0]
    if (candidates.length !== 1 || op === undefined || made.has(op)) return undefined
    made.set(op, v)
  }
  return made
}

/**
 * One blob's operations with indeterminate modifications replaced by what the final stream
 * shows they did; the input unchanged when the stream does not settle it.
 */
export const resolveIndeterminate = (
  ops: ReadonlyArray<Operation>,
  stored: ReadonlyArray<StoredVersion> | undefined,
  initialVersion: number,
): ReadonlyArray<Operation> => {
  const pending = ops.filter(isIndeterminate)
  if (pending.length === 0 || stored === undefined) return ops
  const claimed = new Set(ops.flatMap((op) => (isModifying(op) && op.outcome._tag === "Ok" ? [op.outcome.version] : [])))
  const unclaimed = stored.filter((v) => v.version > initialVersion && !claimed.has(v.version))
  const made = assign(pending, unclaimed)
  if (made === undefined) return ops
  return ops.flatMap((op): Operation[] => {
    if (!isIndeterminate(op)) return [op]
    const v = made.get(op)
    return v === undefined ? [] : [{ ...op, endMs: Number.POSITIVE_INFINITY, outcome: { _tag: "Ok", version: v.version, digest: v.digest } }]
  })
}
