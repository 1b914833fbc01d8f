// What a refused KV write means, from the errors nats.js raises (v3 gives no typed KV errors).

/** The key changed since the revision the write expected (or already exists, for a create). */
export const isCasConflict = (e: unknown): boolean =>
  /wrong last sequence|10071|key exists|10164/i.test(e instanceof Error ? `${e.message} ${String((e as { code?: unknown }).code)}` : String(e))

/** The bucket is at its byte limit. */
export const isFull = (e: unknown): boolean => /10077|maximum bytes|insufficient resources/i.test(e instanceof Error ? e.message : String(e))
