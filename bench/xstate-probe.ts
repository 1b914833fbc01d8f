// Ad-hoc: in-process CPU per write of one blob actor (the machine of domain/machines/blob-actor.ts
// with its effects stubbed: hydration and appends answered at once), so the interpreter's
// share of a write can be compared across machine variants without NATS or other processes.
//   npx tsx bench/xstate-probe.ts [writes=20000] [rounds=5]
import { createActor, fromPromise } from "xstate"
import { writeBlob } from "../domain/blob-command.ts"
import type { BlobId } from "../domain/blob-id.ts"
import * as E from "fp-ts/lib/Either.js"
import { evolve, initialState } from "../domain/blob-state.ts"
import { decide } from "../domain/decide.ts"
import { answerAppend, blobActorMachine, type AppendInput, type Hydrated, type Reply } from "../domain/machines/blob-actor.ts"
import { nodeHasher } from "../infra/hasher.ts"

const writes = Number(process.argv[2] ?? "20000")
const rounds = Number(process.argv[3] ?? "5")
const id = "probe/one" as BlobId
let answer: ((r: Reply) => void) | undefined
let seq = 0
const machine = blobActorMachine.provide({
  actors: { hydrate: fromPromise<Hydrated, { id: BlobId }>(async () => ({ state: initialState(id), headSeq: 0 })) },
  actions: {
    startAppend: ({ self }, _p: AppendInput) => answerAppend(self, Promise.resolve({ seq: ++seq })),
    respond: (_, p: { replyTo: number; reply: Reply }) => answer?.(p.reply),
  },
})
const actor = createActor(machine, { input: { id, hasher: nodeHasher, inlineLimitBytes: 65_536, maxRetries: 3 } }).start()
const body = new Uint8Array(256).fill(7)
const write = (n: number): Promise<Reply> =>
  new Promise((resolve) => {
    answer = resolve
    body[0] = n & 0xff
    actor.send({ type: "command", command: writeBlob({ kind: "inline", bytes: body.slice() }), nowMs: Date.now(), replyTo: n })
  })
await write(-1)
// The pure part alone (decide + evolve), for the interpreter's share by difference.
let state = initialState(id)
for (let r = 0; r < rounds; r++) {
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < writes; i++) {
    body[0] = i & 0xff
    const d = decide(writeBlob({ kind: "inline", bytes: body.slice() }), state, { nowMs: Date.now(), hasher: nodeHasher, inlineLimitBytes: 65_536 })
    if (E.isRight(d) && d.right._tag === "Append") state = evolve(state, d.right.event)
  }
  const cpu = process.cpuUsage(cpu0)
  console.log(`decide + evolve: ${((cpu.user + cpu.system) / writes).toFixed(2)} µs CPU per write`)
}
for (let r = 0; r < rounds; r++) {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < writes; i++) await write(i)
  const cpu = process.cpuUsage(cpu0)
  console.log(`${((performance.now() - t0) * 1000 / writes).toFixed(2)} µs wall, ${((cpu.user + cpu.system) / writes).toFixed(2)} µs CPU per write`)
}
actor.send({ type: "passivate" })
