import { describe, expect, it } from "vitest"
import { lifecycleMsgId } from "../../../domain/shadow-lifecycle.ts"
import { recordOfMsgId } from "../../../services/reconciler/reconciler.ts"

describe("a lifecycle record read from its message id", () => {
  it("gives back the kind, blob and revision the id was made of", () => {
    for (const kind of ["created", "confirmed", "updated", "discarded"] as const) {
      const id = lifecycleMsgId({ kind, id: "orders/42-a_b=c", shadowVersion: 1234, digest: "sha256:" + "f".repeat(64) })
      expect(recordOfMsgId(id)).toEqual({ kind, id: "orders/42-a_b=c", shadowVersion: 1234 })
    }
  })

  it("is undefined for anything else (the body is read instead)", () => {
    expect(recordOfMsgId(undefined)).toBeUndefined()
    expect(recordOfMsgId("some-client-id")).toBeUndefined()
    expect(recordOfMsgId("confirmed:a/1:x:abcd")).toBeUndefined()
  })
})
