import type { NatsConnection } from "@nats-io/nats-core"
import { ContentStore } from "../content-store.ts"
import { nodeHasher } from "../hasher.ts"
import type { Names } from "../names.ts"
import { clientError, fromThrown } from "./errors.ts"

// Content that one NATS message cannot carry goes through the content store (DESIGN.md):
// uploaded by digest before the write, fetched by digest when a read answers with a reference.

/** Room left in a message for the headers: max_payload counts headers and body together. */
export const HEADER_HEADROOM_BYTES = 16 * 1024
const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024

export class ContentTransfer {
  private store: Promise<ContentStore> | undefined

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: Names,
    private readonly thresholdBytes: number | undefined,
  ) {}

  /** Read per call: the limit is the server's, and it is known only once connected. */
  refThresholdBytes(): number {
    const fromServer = (this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD_BYTES) - HEADER_HEADROOM_BYTES
    return Math.min(this.thresholdBytes ?? Number.POSITIVE_INFINITY, fromServer)
  }

  needsRef(size: number): boolean {
    return size > this.refThresholdBytes()
  }

  async upload(bytes: Uint8Array): Promise<string> {
    const store = await this.open()
    try {
      return await store.put(bytes)
    } catch (e) {
      throw fromThrown(e, `upload to ${this.names.contentBucket}`)
    }
  }

  /** Fetches and checks the bytes: a reference that no longer matches its digest is an error, not data. */
  async download(ref: string, digest: string): Promise<Uint8Array> {
    const store = await this.open()
    let bytes: Uint8Array | undefined
    try {
      bytes = await store.get(ref)
    } catch (e) {
      throw fromThrown(e, `fetch ${ref} from ${this.names.contentBucket}`)
    }
    if (bytes === undefined) throw clientError("INTERNAL", `content ${ref} is missing from ${this.names.contentBucket}`, { contentRef: ref })
    const actual = nodeHasher.digest(bytes)
    if (actual !== digest)
      throw clientError("INTERNAL", `content ${ref} does not match its digest ${digest} (got ${actual})`, { contentRef: ref, digest, actual })
    return bytes
  }

  private open(): Promise<ContentStore> {
    if (this.store === undefined) {
      this.store = ContentStore.open(this.nc, this.names).catch((e: unknown) => {
        // Not cached: the bucket may appear once the service has created its topology.
        this.store = undefined
        const err = fromThrown(e, `open content bucket ${this.names.contentBucket}`)
        throw err.code === "INTERNAL" ? clientError("UNAVAILABLE", err.message) : err
      })
    }
    return this.store
  }
}
