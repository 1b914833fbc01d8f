// Raw JetStream reproduction of the leader-partition case, without Umbra (issue #9).
//
//   npx tsx test/faults/partition-repro.ts [--runs N] [--partition-ms 15000] [--logs DIR]
//
// A 3-node cluster on loopback (the fault suite's proxied cluster: routes go through TCP proxies,
// client ports do not), an R3 file stream like UMBRA_EVENTS (allow_direct, 2 min dup window), and
// writers that publish exactly as Umbra's event store does: Nats-Expected-Last-Subject-Sequence
// + Nats-Msg-Id, a timed-out publish retried with the same msg id until a deadline, and a 10071
// ("wrong last sequence") checked against the subject's last message through a leader get
// ("is the head our msg id? then it was stored"). Each writer talks to exactly one node (no
// cluster discovery), so we know which node answered. The stream leader's routes are cut for
// `--partition-ms`, then healed. Every acknowledged (seq, msg id) is recorded and checked:
//  - right after the heal and a few seconds later, through each node: leader get, direct get and
//    an R1 memory consumer (what Umbra's history pages use), to see stale reads;
//  - at the end, once every replica reports itself current, through leader gets of every sequence.
// A write counts as lost only if the settled stream lacks it.

import type { NatsConnection } from "@nats-io/nats-core"
import { headers as natsHeaders, nuid } from "@nats-io/nats-core"
import { mkdirSync } from "node:fs"
import { setTimeout as sleep } from "node:timers/promises"
import { parseArgs } from "node:util"
import { connect } from "@nats-io/transport-node"
import { startProxiedCluster, type ProxiedCluster } from "./support/proxied-cluster.ts"

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "1" },
    "partition-ms": { type: "string", default: "15000" },
    logs: { type: "string" },
    writers: { type: "string", default: "6" },
    subjects: { type: "string", default: "4" },
    "umbra-head-check": { type: "boolean", default: true },
    stepdown: { type: "boolean", default: false },
    /** Writers on the isolated node pause during the partition (no proposals to the stale leader). */
    "quiet-isolated": { type: "boolean", default: false },
  },
})

const STREAM = "REPRO"
const enc = new TextEncoder()
const dec = new TextDecoder()
const t0 = Date.now()
const ts = () => ((Date.now() - t0) / 1000).toFixed(2).padStart(7)
const log = (...a: unknown[]) => console.log(`[${ts()}]`, ...a)

interface Ack {
  writer: number
  node: string
  subject: string
  msgId: string
  seq: number
  /** "ack": a publish ack; "dup": an ack with duplicate: true; "head": 10071 whose head had our msg id */
  how: "ack" | "dup" | "head"
  atMs: number
  attempts: number
}

const jsonOf = (data: Uint8Array): Record<string, any> => {
  try {
    return JSON.parse(dec.decode(data))
  } catch {
    return {}
  }
}

const connectTo = (url: string, name: string): Promise<NatsConnection> =>
  connect({
    servers: [url],
    name,
    ignoreClusterUpdates: true,
    noRandomize: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: 2_000,
  })

/** STREAM.MSG.GET (answered by the stream leader as that node sees it). */
const leaderGet = async (nc: NatsConnection, q: Record<string, unknown>, timeout = 2_000) => {
  const r = await nc.request(`$JS.API.STREAM.MSG.GET.${STREAM}`, JSON.stringify(q), { timeout })
  const j = jsonOf(r.data)
  if (j["error"]) return { error: j["error"] as { code: number; err_code: number; description: string } }
  const m = j["message"] as { seq: number; hdrs?: string; subject: string }
  const hdrs = m.hdrs ? Buffer.from(m.hdrs, "base64").toString("latin1") : ""
  const msgId = /Nats-Msg-Id:\s*([^\r\n]+)/i.exec(hdrs)?.[1]
  return { seq: m.seq, msgId, subject: m.subject }
}

/** DIRECT.GET (answered by any replica: from this node's client, usually the local one). */
const directGet = async (nc: NatsConnection, q: Record<string, unknown>) => {
  const r = await nc.request(`$JS.API.DIRECT.GET.${STREAM}`, JSON.stringify(q), { timeout: 2_000 })
  if (r.headers?.code && r.headers.code >= 300) return { seq: undefined, msgId: undefined }
  return { seq: Number(r.headers?.get("Nats-Sequence")), msgId: r.headers?.get("Nats-Msg-Id") || undefined }
}

/** Every message of the stream through an R1 memory consumer, as Umbra's history pages read. */
const consumerRead = async (nc: NatsConnection): Promise<{ placedOn: string | undefined; seqs: Map<number, string | undefined> }> => {
  const name = `repro_${nuid.next()}`
  const config = { name, ack_policy: "none", deliver_policy: "all", mem_storage: true, num_replicas: 1, inactive_threshold: 10e9 }
  const r = await nc.request(`$JS.API.CONSUMER.CREATE.${STREAM}.${name}`, JSON.stringify({ stream_name: STREAM, config }), { timeout: 5_000 })
  const created = jsonOf(r.data)
  if (created["error"]) throw new Error(`consumer: ${JSON.stringify(created["error"])}`)
  const placedOn = created["cluster"]?.["leader"] as string | undefined
  const pending = Number(created["num_pending"] ?? 0)
  const seqs = new Map<number, string | undefined>()
  if (pending > 0) {
    const inbox = `_INBOX.${nuid.next()}`
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("consumer read timed out")), 10_000)
      const sub = nc.subscribe(inbox, {
        callback: (_e, m) => {
          if ((m.headers?.code ?? 0) >= 300) return done()
          const t = m.reply?.split(".") ?? []
          const seq = Number(t.length === 9 ? t[5] : t[7])
          const left = Number(t.length === 9 ? t[8] : t[10])
          seqs.set(seq, m.headers?.get("Nats-Msg-Id") || undefined)
          if (left === 0) done()
        },
      })
      const done = () => {
        clearTimeout(timer)
        sub.unsubscribe()
        resolve()
      }
      nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${STREAM}.${name}`, JSON.stringify({ batch: pending, no_wait: true }), { reply: inbox })
    })
  }
  nc.publish(`$JS.API.CONSUMER.DELETE.${STREAM}.${name}`)
  return { placedOn, seqs }
}

const streamInfo = async (nc: NatsConnection) => {
  const r = await nc.request(`$JS.API.STREAM.INFO.${STREAM}`, undefined, { timeout: 2_000 })
  return jsonOf(r.data) as { state?: { last_seq: number; messages: number }; cluster?: { leader?: string; replicas?: Array<{ name: string; current: boolean; lag?: number; active: number }> }; error?: unknown }
}

const runOnce = async (run: number, partitionMs: number, logDir: string | undefined): Promise<Record<string, unknown>> => {
  const dir = logDir === undefined ? undefined : `${logDir}/run${run}`
  if (dir) mkdirSync(dir, { recursive: true })
  const cluster: ProxiedCluster = await startProxiedCluster(3, dir)
  const conns: NatsConnection[] = []
  try {
    const byNode = new Map<string, NatsConnection>()
    for (const n of cluster.nodes) {
      const nc = await connectTo(n.url, `repro-admin-${n.name}`)
      conns.push(nc)
      byNode.set(n.name, nc)
    }
    const admin = byNode.get("n1")!
    // A meta leader, then the stream.
    const cfg = {
      name: STREAM,
      subjects: ["repro.>"],
      storage: "file",
      retention: "limits",
      num_replicas: 3,
      duplicate_window: 120e9,
      allow_direct: true,
      max_msgs_per_subject: -1,
    }
    for (let i = 0; ; i++) {
      const r = await admin.request(`$JS.API.STREAM.CREATE.${STREAM}`, JSON.stringify(cfg), { timeout: 5_000 }).catch((e) => e as Error)
      if (!(r instanceof Error) && !jsonOf(r.data)["error"]) break
      if (i > 120) throw new Error(`could not create the stream: ${r instanceof Error ? r.message : dec.decode(r.data)}`)
      await sleep(500)
    }
    const writerCount = Number(args.writers)
    const subjects = Array.from({ length: Number(args.subjects) }, (_, i) => `repro.s${i}`)
    const writers: NatsConnection[] = []
    for (let w = 0; w < writerCount; w++) {
      const n = cluster.nodes[w % cluster.nodes.length]!
      const nc = await connectTo(n.url, `repro-writer-${w}`)
      conns.push(nc)
      writers.push(nc)
    }
    const acks: Ack[] = []
    const unknown: Array<{ writer: number; node: string; msgId: string; subject: string }> = []
    const events: Array<{ atMs: number; what: string }> = []
    const errorsByNode = new Map<string, Map<string, number>>()
    const bump = (node: string, k: string) => {
      const m = errorsByNode.get(node) ?? new Map<string, number>()
      m.set(k, (m.get(k) ?? 0) + 1)
      errorsByNode.set(node, m)
    }
    let running = true
    const paused = new Set<string>()
    const lastSeq = new Map<string, number>()

    const writer = async (w: number) => {
      const nc = writers[w]!
      const node = cluster.nodes[w % cluster.nodes.length]!.name
      let k = 0
      while (running) {
        if (args["quiet-isolated"] && paused.has(node)) {
          await sleep(50)
          continue
        }
        const subject = subjects[(w + k++) % subjects.length]!
        const msgId = `w${w}-${k}`
        // The writer's belief about the subject's head, refreshed from its node's leader get.
        let expected = lastSeq.get(subject) ?? 0
        const first = Date.now()
        let attempts = 0
        let settled = false
        while (!settled && Date.now() - first < 20_000) {
          attempts++
          const h = natsHeaders()
          h.set("Nats-Msg-Id", msgId)
          h.set("Nats-Expected-Stream", STREAM)
          h.set("Nats-Expected-Last-Subject-Sequence", String(expected))
          try {
            const r = await nc.request(subject, enc.encode(JSON.stringify({ w, msgId })), { timeout: 2_000, headers: h })
            const j = jsonOf(r.data)
            if (j["error"]) {
              const code = j["error"].err_code as number
              bump(node, String(code))
              if (code === 10071) {
                // Umbra: is the head our msg id? Through this node (a stale leader answers here).
                const head = await leaderGet(nc, { last_by_subj: subject }).catch(() => undefined)
                if (head && !("error" in head) && head.msgId === msgId && args["umbra-head-check"]) {
                  acks.push({ writer: w, node, subject, msgId, seq: head.seq, how: "head", atMs: Date.now() - t0, attempts })
                  settled = true
                  break
                }
                if (head && !("error" in head)) {
                  lastSeq.set(subject, Math.max(lastSeq.get(subject) ?? 0, head.seq))
                  expected = head.seq
                }
                // The head moved: a new decision would be a new logical write; give this one up.
                settled = true
                break
              }
              await sleep(100)
              continue
            }
            if (r.headers?.code === 503) {
              bump(node, "503")
              await sleep(100)
              continue
            }
            const seq = Number(j["seq"])
            acks.push({ writer: w, node, subject, msgId, seq, how: j["duplicate"] ? "dup" : "ack", atMs: Date.now() - t0, attempts })
            lastSeq.set(subject, Math.max(lastSeq.get(subject) ?? 0, seq))
            settled = true
          } catch (e) {
            bump(node, (e as Error).message.slice(0, 30))
            await sleep(100)
          }
        }
        if (!settled) unknown.push({ writer: w, node, msgId, subject })
        await sleep(5)
      }
    }

    const loops = writers.map((_, w) => writer(w))
    await sleep(3_000)
    const before = await streamInfo(admin)
    const leader = before.cluster?.leader
    if (leader === undefined) throw new Error("no stream leader")
    const isolatedNc = byNode.get(leader)!
    const majority = cluster.nodes.filter((n) => n.name !== leader).map((n) => byNode.get(n.name)!)
    log(`run ${run}: leader ${leader}, last_seq ${before.state?.last_seq}; isolating it for ${partitionMs} ms`)
    const startMs = Date.now() - t0
    paused.add(leader)
    await sleep(args["quiet-isolated"] ? 2_500 : 0)
    await cluster.isolate(leader)
    events.push({ atMs: startMs, what: `isolate ${leader}` })
    // Watch both sides' view of the leader during the partition.
    const views: string[] = []
    const watch = (async () => {
      while (Date.now() - t0 < startMs + partitionMs) {
        const [a, b] = await Promise.all([streamInfo(isolatedNc).catch(() => undefined), streamInfo(majority[0]!).catch(() => undefined)])
        views.push(`${ts()} isolated sees leader=${a?.cluster?.leader ?? "-"} last=${a?.state?.last_seq ?? "-"} | majority sees leader=${b?.cluster?.leader ?? "-"} last=${b?.state?.last_seq ?? "-"}`)
        await sleep(1_000)
      }
    })()
    await sleep(partitionMs)
    cluster.heal()
    paused.clear()
    const endMs = Date.now() - t0
    events.push({ atMs: endMs, what: "heal" })
    await watch
    log(`run ${run}: healed`)

    // Stale-read probes right after the heal and later, through every node.
    const probes: string[] = []
    const probe = async (label: string) => {
      for (const n of cluster.nodes) {
        const nc = byNode.get(n.name)!
        const ackedSoFar = acks.filter((a) => a.how !== "head" || true)
        try {
          const c = await consumerRead(nc)
          const missing = ackedSoFar.filter((a) => c.seqs.get(a.seq) !== a.msgId && a.atMs < Date.now() - t0 - 500).length
          let directStale = 0
          let leaderStale = 0
          for (const s of subjects) {
            const truth = Math.max(0, ...ackedSoFar.filter((a) => a.subject === s).map((a) => a.seq))
            const d = await directGet(nc, { last_by_subj: s }).catch(() => ({ seq: undefined }))
            if ((d.seq ?? 0) < truth) directStale++
            const l = await leaderGet(nc, { last_by_subj: s }).catch(() => undefined)
            if (!l || "error" in l || l.seq < truth) leaderStale++
          }
          probes.push(`${label} via ${n.name}: consumer on ${c.placedOn} sees ${c.seqs.size} msgs, ${missing} acked missing; direct-get heads behind: ${directStale}/${subjects.length}; leader-get heads behind: ${leaderStale}/${subjects.length}`)
        } catch (e) {
          probes.push(`${label} via ${n.name}: ${(e as Error).message}`)
        }
      }
    }
    await probe("heal+0s")
    await sleep(2_000)
    await probe("heal+2s")
    // Service again: first ack after the heal, per node.
    await sleep(8_000)
    running = false
    await Promise.all(loops)
    await probe("heal+10s")

    // Settle: every replica current, same last seq.
    const settleUntil = Date.now() + 60_000
    let settled = await streamInfo(majority[0]!)
    while (Date.now() < settleUntil) {
      settled = await streamInfo(majority[0]!).catch(() => settled)
      const reps = settled.cluster?.replicas ?? []
      if (settled.cluster?.leader && reps.length === 2 && reps.every((r) => r.current && (r.lag ?? 0) === 0)) break
      await sleep(500)
    }
    await sleep(1_000)
    const finalInfo = await streamInfo(majority[0]!)
    const last = finalInfo.state?.last_seq ?? 0
    const stored = new Map<number, string | undefined>()
    const checker = majority[0]!
    // A leader get that fails for another reason than "no message" (10037) is asked again.
    const settledGet = async (q: Record<string, unknown>) => {
      for (let i = 0; ; i++) {
        const m = await leaderGet(checker, q, 5_000).catch((e: Error) => ({ error: { code: 0, err_code: 0, description: e.message } }))
        if (!("error" in m)) return m.msgId
        if (m.error?.err_code === 10037 || i >= 40) return undefined
        await sleep(250)
      }
    }
    for (let s = 1; s <= last; s++) stored.set(s, await settledGet({ seq: s }))
    const lost = acks.filter((a) => stored.get(a.seq) !== a.msgId)
    const ackedIds = new Map(acks.map((a) => [a.msgId, a]))
    const whoWrote = (id: string | undefined) => {
      if (id === undefined) return "nothing"
      const w = Number(/^w(\d+)-/.exec(id)?.[1])
      const a = ackedIds.get(id)
      return `${id} (writer on ${cluster.nodes[w % cluster.nodes.length]!.name}, ${a ? `acked at ${a.seq}` : "never acked"})`
    }
    // Each replica's own copy: R1 consumers until one lands on every node (placement is random).
    const replicaDiffs: Record<string, unknown> = {}
    for (const n of cluster.nodes) {
      let copy: Awaited<ReturnType<typeof consumerRead>> | undefined
      for (let i = 0; i < 30 && copy?.placedOn !== n.name; i++) copy = await consumerRead(byNode.get(n.name)!).catch(() => undefined)
      if (copy?.placedOn !== n.name) {
        replicaDiffs[n.name] = "no consumer placed there"
        continue
      }
      const diffs: string[] = []
      for (let s = 1; s <= Math.max(last, ...copy.seqs.keys()); s++) {
        if (copy.seqs.get(s) !== stored.get(s)) diffs.push(`seq ${s}: leader has ${whoWrote(stored.get(s))}, ${n.name} has ${whoWrote(copy.seqs.get(s))}`)
      }
      replicaDiffs[n.name] = diffs.length === 0 ? `identical (${copy.seqs.size} msgs)` : diffs
    }
    // Would a leader change to the old leader make the divergence a loss? (opt-in: --stepdown)
    let afterStepdown: unknown
    if (args.stepdown) {
      for (let i = 0; i < 20; i++) {
        const cur = (await streamInfo(checker).catch(() => undefined))?.cluster?.leader
        if (cur === leader) break
        await checker.request(`$JS.API.STREAM.LEADER.STEPDOWN.${STREAM}`, undefined, { timeout: 5_000 }).catch(() => undefined)
        await sleep(3_000)
      }
      const now = await streamInfo(checker)
      const lostNow: string[] = []
      if (now.cluster?.leader === leader) {
        for (const a of acks) {
          const id = await settledGet({ seq: a.seq })
          if (id !== a.msgId) lostNow.push(`acked ${a.msgId} at ${a.seq}: now ${whoWrote(id)}`)
        }
      }
      afterStepdown = { leader: now.cluster?.leader, lostAckedWrites: lostNow }
    }
    const idSeqs = new Map<string, number[]>()
    for (const [s, id] of stored) if (id) idSeqs.set(id, [...(idSeqs.get(id) ?? []), s])
    const dupIds = [...idSeqs].filter(([, s]) => s.length > 1)
    // Write gap and recovery (all writers; and writers on the majority nodes).
    const inWindow = acks.map((a) => a.atMs).sort((a, b) => a - b)
    const gap = (xs: number[]) => {
      const pts = [startMs, ...xs.filter((x) => x > startMs && x < endMs + 30_000), endMs]
      pts.sort((a, b) => a - b)
      let g = 0
      for (let i = 1; i < pts.length; i++) g = Math.max(g, pts[i]! - pts[i - 1]!)
      return g
    }
    const firstAfter = (xs: number[]) => {
      const f = xs.find((x) => x >= endMs)
      return f === undefined ? undefined : f - endMs
    }
    const duringByNode = Object.fromEntries(cluster.nodes.map((n) => [n.name, acks.filter((a) => a.node === n.name && a.atMs > startMs && a.atMs < endMs).length]))
    const result = {
      run,
      leader,
      acks: acks.length,
      ackKinds: { ack: acks.filter((a) => a.how === "ack").length, dup: acks.filter((a) => a.how === "dup").length, head: acks.filter((a) => a.how === "head").length },
      acksDuringPartitionByNode: duringByNode,
      unknownOutcome: unknown.length,
      lost: lost.map((a) => ({ ...a, storedThere: stored.get(a.seq), storedAt: idSeqs.get(a.msgId) })),
      duplicateMsgIds: dupIds.length,
      longestWriteGapMs: gap(inWindow),
      firstAckAfterHealMs: firstAfter(inWindow),
      finalLeader: finalInfo.cluster?.leader,
      finalLastSeq: last,
      replicaDiffs,
      afterStepdown,
      errorsByNode: Object.fromEntries([...errorsByNode].map(([k, v]) => [k, Object.fromEntries(v)])),
    }
    for (const v of views) log(`  ${v}`)
    for (const p of probes) log(`  ${p}`)
    log(`run ${run}:`, JSON.stringify(result, null, 1))
    return result
  } finally {
    for (const nc of conns) await nc.close().catch(() => {})
    cluster.heal()
    await cluster.stop()
  }
}

const main = async () => {
  const runs = Number(args.runs)
  const results = []
  for (let r = 1; r <= runs; r++) results.push(await runOnce(r, Number(args["partition-ms"]), args.logs))
  log(
    "summary:",
    results.map((r) => `run ${r["run"]}: acks ${r["acks"]}, lost ${(r["lost"] as unknown[]).length}, dup ids ${r["duplicateMsgIds"]}, gap ${r["longestWriteGapMs"]} ms, first ack after heal ${r["firstAckAfterHealMs"]} ms`).join("; "),
  )
  process.exit(results.some((r) => (r["lost"] as unknown[]).length > 0 || (r["duplicateMsgIds"] as number) > 0) ? 1 : 0)
}

main().catch((e) => {
  console.error(e)
  process.exit(2)
})
