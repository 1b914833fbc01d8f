import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import bcrypt from "bcryptjs"
import { describe, expect, it } from "vitest"
import { renderWithSecrets } from "../../deploy/make-nats-conf.ts"
import { permissionsOf, referenceNatsConf, ROLES } from "../../deploy/nats-roles.ts"

// The checked-in nats.conf is a rendering of deploy/nats-roles.ts, never hand-edited: the
// permission tests run against the same renderer, so what they prove holds for the file.

const ROOT = resolve(import.meta.dirname, "../..")

describe("nats.conf", () => {
  it("is exactly the reference rendering", () => {
    expect(readFileSync(resolve(ROOT, "nats.conf"), "utf8")).toBe(referenceNatsConf())
  })

  it("has no top-level authorization block beside accounts (CVE-2023-47090)", () => {
    const conf = referenceNatsConf()
    expect(conf).toMatch(/^accounts \{/m)
    expect(conf).not.toMatch(/^\s*authorization\s*[:{]/m)
  })

  it("holds bcrypt hashes, never the secrets", () => {
    const conf = renderWithSecrets({ service: "s3cret-a", writer: "s3cret-b", reader: "s3cret-c", auditor: "s3cret-d" }, { cost: 4 })
    expect(conf).not.toMatch(/s3cret/)
    const hashes = [...conf.matchAll(/password: "([^"]+)"/g)].map((m) => m[1]!)
    expect(hashes).toHaveLength(4)
    expect(bcrypt.compareSync("s3cret-b", hashes[1]!)).toBe(true)
  })

  it("denies every client the generic read APIs of the event stream and the shadow bucket", () => {
    for (const role of ROLES.filter((r) => r !== "service")) {
      const p = permissionsOf(role)
      for (const s of ["$JS.API.STREAM.MSG.GET.UMBRA_EVENTS", "$JS.API.DIRECT.GET.UMBRA_EVENTS.>", "$JS.API.CONSUMER.CREATE.UMBRA_EVENTS.>", "$JS.API.DIRECT.GET.KV_umbra_shadows.>"])
        expect(p.publishDeny).toContain(s)
      expect(p.subscribeAllow).toEqual([`_INBOX_umbra-${role}.>`])
      expect(p.allowResponses).toBe(false)
    }
    expect(permissionsOf("service").allowResponses).toBe(true)
  })
})
