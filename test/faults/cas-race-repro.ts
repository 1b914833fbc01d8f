// Raw JetStream reproduction of nats-server issue #4320 on the installed server, without Umbra:
// on a clustered (R3) stream, concurrent publishes carrying the same
// Nats-Expected-Last-Subject-Sequence can all be accepted (the check is a pre-check on the
// leader, not part of the raft write; fixed in 2.9.21). A KV `update` is such a publish, so
// two instances taking the same expired partition lease at once can both "win".
//
//   npx tsx test/faults/cas-race-repro.ts [--rounds 200] [--writers 2] [--replicas 3] [--msg-id]
//
// `--msg-id` adds what infra/exclusive-cas.ts sends: the same Nats-Msg-Id on every writer's
// update of a round. Measured here (2.9.10): 152 of 200 rounds with two winners without it,
// 0 of 200 on R1, 0 of 300 (three writers) and 0 of 1,000 (five) with it.

import { jetstream } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { connect } from "@nats-io/transport-node"
import { parseArgs } from "node:util"
import { startLocalCluster, waitForJetStream } from "../../infra/local-cluster.ts"

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "200" },
    writers: { type: "string", default: "2" },
    replicas: { type: "string", default: "3" },
    /** Each writer also sends the same Nats-Msg-Id (the round's): is deduplication exclusive where the sequence check is not? */
    "msg-id": { type: "boolean", default: false },
  },
})
const rounds = Number(args.rounds)
const writers = Number(args.writers)
const replicas = Number(args.replicas)

const cluster = await startLocalCluster(3)
try {
  const ncs = await Promise.all(cluster.nodes.map((n) => connect({ servers: `nats://127.0.0.1:${n.clientPort}` })))
  const admin = ncs[0]!
  await waitForJetStream(async () => !new TextDecoder().decode((await admin.request("$JS.API.INFO", undefined, { timeout: 2_000 })).data).includes('"error"'), 60_000)
  const kv0 = await new Kvm(jetstream(admin)).create("race", { history: 1, replicas })
  const kvs = await Promise.all(ncs.map((nc) => new Kvm(jetstream(nc)).open("race")))
  const jss = ncs.map((nc) => jetstream(nc))
  let revision = await kv0.put("lease", "start")
  let doubleWins = 0
  let zeroWins = 0
  for (let r = 0; r < rounds; r++) {
    // Every writer updates the same key expecting the same revision, each through its own node.
    const results = await Promise.allSettled(
      Array.from({ length: writers }, (_, w) =>
        args["msg-id"]
          ? jss[w % jss.length]!.publish("$KV.race.lease", `round ${r} writer ${w}`, { msgID: `round-${r}`, expect: { lastSubjectSequence: revision } }).then((a) => {
              if (a.duplicate) throw new Error("duplicate")
              return a.seq
            })
          : kvs[w % kvs.length]!.update("lease", `round ${r} writer ${w}`, revision),
      ),
    )
    const wins = results.filter((x) => x.status === "fulfilled").length
    if (wins > 1) doubleWins++
    if (wins === 0) zeroWins++
    const e = await kv0.get("lease")
    revision = e!.revision
    if ((r + 1) % 50 === 0) process.stderr.write(`round ${r + 1}/${rounds}: ${doubleWins} with more than one winner\n`)
  }
  console.log(JSON.stringify({ server: admin.info?.version, replicas, writers, rounds, msgId: args["msg-id"], roundsWithSeveralWinners: doubleWins, roundsWithNoWinner: zeroWins }))
  await Promise.all(ncs.map((nc) => nc.close()))
} finally {
  await cluster.stop()
}
