import * as crypto from "node:crypto"
import type { Hasher } from "../domain/digest.ts"

// Node's one-shot `crypto.hash` (20.12+) skips the Hash object: about half the CPU of
// createHash().update().digest() for the few hundred bytes of a write's content and chain
// link, each hashed once per write. createHash where it is missing.
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array | string, enc: "hex") => string }).hash

export const sha256Hex: (bytes: Uint8Array | string) => string =
  oneShot !== undefined ? (bytes) => oneShot("sha256", bytes, "hex") : (bytes) => crypto.createHash("sha256").update(bytes).digest("hex")

export const nodeHasher: Hasher = {
  digest: (bytes) => "sha256:" + sha256Hex(bytes),
  hashText: (text) => "sha256:" + sha256Hex(text),
}

/** The object store names digests `SHA-256=<base64url>`; Umbra names them `sha256:<hex>`. */
export const objectStoreDigestToUmbra = (d: string): string | undefined => {
  const m = /^SHA-256=(.+)$/i.exec(d)
  if (!m || m[1] === undefined) return undefined
  return "sha256:" + Buffer.from(m[1], "base64url").toString("hex")
}
