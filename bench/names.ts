// Names of the bench's own subjects, streams and buckets (the baselines'); Umbra's come
// from infra/names.ts like everywhere else.
export const BENCH = {
  echoSubject: "bench.echo",
  thinCmdPrefix: "bench.thin.cmd",
  thinEvtPrefix: "bench.thin.evt",
  thinStream: "BENCH_THIN",
  casPrefix: "bench.cas",
  casStream: "BENCH_CAS",
  kvBucket: "bench_kv",
  wireCmdPrefix: "bench.wire.cmd",
  wireEvtPrefix: "bench.wire.evt",
  wireHeadPrefix: "bench.wire.head",
  wireStream: "BENCH_WIRE",
  wireBucket: "bench_wire",
} as const

/**
 * What the wire-write responder does besides the event's compare-and-set (WIRE_PARTS, comma
 * separated; bench/write-floor.ts): `shadow`, `heads`, `watch`; all three by default.
 */
export const wireParts = (): ReadonlySet<string> => new Set((process.env["WIRE_PARTS"] ?? "shadow,heads,watch").split(","))

/** Blob (or key) index for worker `w`'s `n`-th operation: workers never share a blob. */
export const ownedIndex = (w: number, n: number, concurrency: number, count: number): number =>
  w + concurrency * (n % Math.max(1, Math.floor(count / concurrency)))

const pad = (i: number): string => String(i).padStart(6, "0")
export const blobName = (prefix: string, i: number): string => `${prefix}-${pad(i)}`

/** Versions of the history-page case's blob: the target's 100,000, or 20,000 in a --quick run. */
export const HISTORY_VERSIONS = 100_000
export const HISTORY_VERSIONS_QUICK = 20_000
/** `history-page-100k-versions@1` (the target's case) or, in a --quick run, `history-page-20k-versions@1`. */
export const historyCaseName = (versions: number): string => `history-page-${Math.round(versions / 1000)}k-versions@1`
