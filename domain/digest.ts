// Hashing is pure but needs an implementation; the domain names what it needs and the
// shell passes in one backed by node:crypto (or WebCrypto in a browser).
export interface Hasher {
  /** `sha256:<hex>` of the bytes. */
  readonly digest: (bytes: Uint8Array) => string
  /** `sha256:<hex>` of the UTF-8 text. */
  readonly hashText: (text: string) => string
}
