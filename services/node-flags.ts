// The Node.js (V8) flags every Umbra service process is started with: `npm start`, the image
// (Dockerfile, as NODE_OPTIONS), the local cluster runner and the bench's service processes.
//
// A young generation of 64 MiB semi-spaces instead of V8's 16 MiB: a write allocates its
// request, command, actor snapshots, event, shadow frame and replies, nearly all garbage by
// the reply, and the default young space filled (and was scavenged) every few thousand writes.
// Alternated on one server (`AB_B_NODE_FLAGS=--max-semi-space-size=64 npx tsx bench/ab-probe.ts
// write . 4 5`): writes at 64 in flight 1.035× the ops, 0.957× the service's CPU per write,
// p50 0.881×; shadow hits 1.021× the ops. It costs up to ~100 MiB more resident memory at peak.
export const SERVICE_NODE_FLAGS: ReadonlyArray<string> = ["--max-semi-space-size=64"]
