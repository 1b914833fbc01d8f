import { Objm, type ObjectStore } from "@nats-io/obj"
import type { NatsConnection } from "@nats-io/nats-core"
import { nodeHasher, objectStoreDigestToUmbra } from "./hasher.ts"
import type { Names } from "./names.ts"

// Content too large for one message lives in an object store bucket, named by its digest
// (`sha256:<hex>`): content-addressed, so an upload retried or shared by two blobs is one object.

export class ContentStore {
  private constructor(private readonly os: ObjectStore) {}

  static async open(nc: NatsConnection, names: Names): Promise<ContentStore> {
    return new ContentStore(await new Objm(nc).open(names.contentBucket))
  }

  /** Uploads bytes unless an object with that digest is already there; returns the digest. */
  async put(bytes: Uint8Array): Promise<string> {
    const digest = nodeHasher.digest(bytes)
    const existing = await this.os.info(digest)
    if (existing !== null && !existing.deleted && objectStoreDigestToUmbra(existing.digest) === digest) return digest
    await this.os.putBlob({ name: digest }, bytes)
    return digest
  }

  /** Size of a stored object whose content really has `digest`, or undefined. */
  async verifiedSize(digest: string): Promise<number | undefined> {
    const info = await this.os.info(digest)
    if (info === null || info.deleted) return undefined
    return objectStoreDigestToUmbra(info.digest) === digest ? info.size : undefined
  }

  async get(digest: string): Promise<Uint8Array | undefined> {
    return (await this.os.getBlob(digest)) ?? undefined
  }
}
