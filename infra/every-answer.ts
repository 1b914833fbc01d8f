import type { Msg, NatsConnection } from "@nats-io/nats-core"

// Every answer a JetStream API request gets within a short window, not only the first. A
// stream's leader answers STREAM.INFO and STREAM.MSG.GET; on nats-server 2.9.10 a leader cut
// off by a partition goes on calling itself leader for a while after the heal, so two servers
// answer, the stale one often first (it is the one its clients are connected to). Where an
// answer decides whether something was stored, all of them must agree.

export interface EveryAnswerOptions {
  /** Stop waiting for more answers this long after the last one. */
  readonly stallMs: number
  /** Stop waiting for a first answer after this long (then none came). */
  readonly maxWaitMs: number
}

export const DEFAULT_EVERY_ANSWER: EveryAnswerOptions = { stallMs: 100, maxWaitMs: 1_000 }

export const everyAnswer = async (
  nc: NatsConnection,
  subject: string,
  body: string,
  o: EveryAnswerOptions = DEFAULT_EVERY_ANSWER,
): Promise<Msg[]> => {
  const out: Msg[] = []
  const answers = await nc.requestMany(subject, body, { strategy: "stall", stall: o.stallMs, maxWait: o.maxWaitMs })
  for await (const m of answers) out.push(m)
  return out
}
