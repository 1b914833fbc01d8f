import { gunzipSync, gzipSync } from "node:zlib"
import { Objm, type ObjectStore } from "@nats-io/obj"
import type { NatsConnection } from "@nats-io/nats-core"
import type { PredictorSnapshot } from "../../domain/predictor/snapshot.ts"

// The model and the stream positions it covers, saved together as one object: a restored
// predictor has learned exactly the messages up to these positions, no more, no less. An
// object store (not a KV value) because a model of 100k blobs is megabytes, past
// max_payload; the object's metadata is written last, so a half-uploaded checkpoint is
// never read.

export const CHECKPOINT_OBJECT = "checkpoint"

export interface FeedPositions {
  readonly events: number
  readonly access: number
  readonly verdicts: number
}

export interface Checkpoint {
  readonly format: 1
  readonly savedAtMs: number
  /** `service` or `train`: who wrote it. */
  readonly writer: string
  readonly positions: FeedPositions
  /** Last observed version per blob: a redelivered or replayed version is never learned twice. */
  readonly seen: ReadonlyArray<readonly [string, number]>
  readonly model: PredictorSnapshot
}

export const NO_POSITIONS: FeedPositions = { events: 0, access: 0, verdicts: 0 }

export class CheckpointStore {
  private constructor(private readonly os: ObjectStore) {}

  static async open(nc: NatsConnection, bucket: string): Promise<CheckpointStore> {
    return new CheckpointStore(await new Objm(nc).open(bucket))
  }

  /** Returns the compressed size written. */
  async save(c: Checkpoint): Promise<number> {
    const bytes = gzipSync(JSON.stringify(c), { level: 1 })
    await this.os.putBlob({ name: CHECKPOINT_OBJECT }, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    return bytes.byteLength
  }

  /** The saved checkpoint; undefined when there is none or it cannot be read (then start cold). */
  async load(): Promise<Checkpoint | undefined> {
    const bytes = await this.os.getBlob(CHECKPOINT_OBJECT)
    if (bytes === null) return undefined
    try {
      const c = JSON.parse(gunzipSync(bytes).toString("utf8")) as Checkpoint
      return c.format === 1 && typeof c.positions?.events === "number" ? c : undefined
    } catch {
      return undefined
    }
  }
}
