import { ConfigProvider, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { umbraConfig } from "../../services/config.ts"

const parse = (env: Record<string, string>) => Effect.runSync(umbraConfig.parse(ConfigProvider.fromEnv({ env })))

describe("UMBRA_NATS_PENDING_LIMIT", () => {
  it("defaults to 16 KiB and takes a byte count", () => {
    expect(parse({}).natsPendingLimitBytes).toBe(16 * 1024)
    expect(parse({ UMBRA_NATS_PENDING_LIMIT: "8192" }).natsPendingLimitBytes).toBe(8192)
  })

  it("refuses a value nats.js would misread (0 is its own 32 KiB default) or that is not an integer", () => {
    for (const bad of ["0", "100", "-1", "16k", "1.5"])
      expect(() => parse({ UMBRA_NATS_PENDING_LIMIT: bad }), bad).toThrow(/UMBRA_NATS_PENDING_LIMIT/)
  })
})
