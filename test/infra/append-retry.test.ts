import { describe, expect, it } from "vitest"
import { AlreadyStored, HeadMoved } from "../../domain/machines/blob-actor.ts"
import { AppendFenced, isRetryable, UnknownOutcome } from "../../infra/event-store.ts"
import { JsPublishTimeout } from "../../infra/js-publisher.ts"

// Which failures of an append attempt are tried again. The decisions the append made itself
// are final whatever their text says: the blob's id and version are in it, and an id like
// `orders/closed-7` or version 1503 once matched the transient-failure pattern (a retry loop
// until the deadline, then "unknown" instead of "already stored").

describe("append retries", () => {
  it("retry what may not have reached the stream", () => {
    expect(isRetryable(new JsPublishTimeout("umbra.evt.a"))).toBe(true)
    expect(isRetryable(new Error("503 no responders for a publish to umbra.evt.a"))).toBe(true)
    expect(isRetryable(new Error("connection closed before the ack"))).toBe(true)
  })
  it("never retry an outcome the append decided, whatever its message holds", () => {
    expect(isRetryable(new AlreadyStored(1503, "sha256-x"))).toBe(false)
    expect(isRetryable(new HeadMoved("head of orders/closed-7 moved past 12"))).toBe(false)
    expect(isRetryable(new UnknownOutcome("duplicate of orders/closed-7: the servers answering for the stream's leader disagree"))).toBe(false)
    expect(isRetryable(new AppendFenced("append to umbra.evt.timeout stopped"))).toBe(false)
  })
  it("do not retry a refusal", () => {
    expect(isRetryable(new Error("maximum payload exceeded"))).toBe(false)
  })
})
