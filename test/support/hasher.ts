import { createHash } from "node:crypto"
import type { Hasher } from "../../domain/digest.ts"

// The domain's Hasher port, backed by node:crypto for tests. Kept here (not imported from
// infra/) so the unit tier depends on nothing but the domain.
const sha256Hex = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex")

export const testHasher: Hasher = {
  digest: (bytes) => "sha256:" + sha256Hex(bytes),
  hashText: (text) => "sha256:" + sha256Hex(text),
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

export const digestOf = (text: string | Uint8Array): string =>
  testHasher.digest(typeof text === "string" ? utf8(text) : text)

export const EMPTY_DIGEST = digestOf(new Uint8Array(0))
