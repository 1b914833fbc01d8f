// Ad-hoc: in-process CPU per write of one blob actor (the machine of domain/machines/blob-actor.ts
// with its effects stubbed: hydration and appends answered at once), so the interpreter's
// share of a write can be compared across machine variants without NATS or other processes.
//   npx tsx bench/xstate-probe.ts [writes=20000] [rounds=5]
// With PROBE_BASE=<another checkout> (e.g. a `git worktree` of the base commit), that checkout's
// actor (its machine, decide and hasher) and this one's are alternated in one process, round by
// round, and the medians compared: the machine's noise hits both alike.
import { resolve } from "node:path"
import { createActor, fromPromise } from "xstate"
import { writeBlob } from "../domain/blob-command.ts"
import type { BlobId } from "../domain/blob-id.ts"
import * as E from "fp-ts/lib/Either.js"
import { evolve, initialState } from "../domain/blob-state.ts"
import { decide } from "../domain/decide.ts"
import type { Hasher } from "../domain/digest.ts"
import * as thisActor from "../domain/machines/blob-actor.ts"
import { nodeHasher } from "../infra/hasher.ts"

const writes = Number(process.argv[2] ?? "20000")
const rounds = Number(process.argv[3] ?? "5")
const base = process.env.PROBE_BASE
const id = "probe/one" as BlobId

type ActorModule = typeof thisActor

/** One started actor of `m`'s machine; `write(n)` resolves with the reply to write n. */
const actorOf = (m: ActorModule, hasher: Hasher): ((n: number) => Promise<thisActor.Reply>) => {
  let answer: ((r: thisActor.Reply) => void) | undefined
  let seq = 0
  const machine = m.blobActorMachine.provide({
    actors: { hydrate: fromPromise<thisActor.Hydrated, { id: BlobId }>(async () => ({ state: initialState(id), headSeq: 0 })) },
    actions: {
      startAppend: ({ self }, _p: thisActor.AppendInput) => m.answerAppend(self, Promise.resolve({ seq: ++seq })),
      respond: (_, p: { replyTo: number; reply: thisActor.Reply }) => answer?.(p.reply),
    },
  })
  const actor = createActor(machine, { input: { id, hasher, inlineLimitBytes: 65_536, maxRetries: 3 } }).start()
  const body = new Uint8Array(256).fill(7)
  return (n) =>
    new Promise((done) => {
      answer = done
      body[0] = n & 0xff
      actor.send({ type: "command", command: writeBlob({ kind: "inline", bytes: body.slice() }), nowMs: Date.now(), replyTo: n })
    })
}

/** CPU µs per write over `writes` sequential writes. */
const measure = async (write: (n: number) => Promise<unknown>): Promise<number> => {
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < writes; i++) await write(i)
  const cpu = process.cpuUsage(cpu0)
  return (cpu.user + cpu.system) / writes
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN

if (base !== undefined) {
  const other = (await import(resolve(base, "domain/machines/blob-actor.ts"))) as ActorModule
  const otherHasher = ((await import(resolve(base, "infra/hasher.ts"))) as { nodeHasher: Hasher }).nodeHasher
  const builds = [
    { name: "A (base)", write: actorOf(other, otherHasher), cpu: [] as number[] },
    { name: "B (this)", write: actorOf(thisActor, nodeHasher), cpu: [] as number[] },
  ]
  for (const b of builds) await b.write(-1)
  for (let r = 0; r < rounds; r++)
    for (const b of r % 2 === 0 ? builds : [...builds].reverse()) {
      b.cpu.push(await measure(b.write))
      console.log(`round ${r + 1} ${b.name}: ${b.cpu.at(-1)!.toFixed(1)} µs CPU per write`)
    }
  const [a, b] = builds.map((x) => median(x.cpu)) as [number, number]
  console.log(`A median ${a.toFixed(1)} µs, B median ${b.toFixed(1)} µs per write; B/A ${(b / a).toFixed(3)}`)
} else {
  const write = actorOf(thisActor, nodeHasher)
  await write(-1)
  // The pure part alone (decide + evolve), for the interpreter's share by difference.
  let state = initialState(id)
  const body = new Uint8Array(256).fill(7)
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
    const t0 = performance.now()
    const cpu = await measure(write)
    console.log(`${(((performance.now() - t0) * 1000) / writes).toFixed(2)} µs wall, ${cpu.toFixed(2)} µs CPU per write`)
  }
}
process.exit(0)
