/**
 * After the run: every touched blob's full history, paged through `blob.cmd.history`
 * (`Umbra-Next-From` names the next page). Retried while the system is still recovering
 * from a late fault; a blob whose history cannot be read is reported, not guessed.
 */
import type { Transport } from "../client.ts"
import type { FinalVersion } from "../finish-run.ts"

const PAGE = 1_000
const ATTEMPTS = 8
const CONCURRENCY = 32
const decoder = new TextDecoder()

type Page = { readonly entries: FinalVersion[]; readonly nextFrom: number | undefined } | "missing"

const fetchPage = async (t: Transport, prefix: string, blobId: string, from: number): Promise<Page> => {
  const body = new TextEncoder().encode(JSON.stringify({ from, limit: PAGE }))
  let last = "no attempt"
  for (let i = 0; i < ATTEMPTS; i++) {
    const r = await t.request(`${prefix}.history.${blobId}`, body, {}, 10_000)
    if (r._tag === "Reply") {
      const status = r.header("Nats-Service-Error-Code")
      if (status === "404") return "missing"
      if (status === undefined || status === "") {
        const next = r.header("Umbra-Next-From")
        return { entries: JSON.parse(decoder.decode(r.body)) as FinalVersion[], nextFrom: next === undefined ? undefined : Number(next) }
      }
      last = `status ${status}`
    } else last = r._tag
    await new Promise((ok) => setTimeout(ok, 250 * (i + 1)))
  }
  throw new Error(`history of ${blobId} from version ${from} unreadable: ${last}`)
}

const fetchOne = async (t: Transport, prefix: string, blobId: string): Promise<FinalVersion[]> => {
  const out: FinalVersion[] = []
  for (let from: number | undefined = 1; from !== undefined; ) {
    const page: Page = await fetchPage(t, prefix, blobId, from)
    if (page === "missing") return out
    out.push(...page.entries)
    from = page.entries.length === 0 ? undefined : page.nextFrom
  }
  return out
}

export const fetchFinalHistories = async (
  t: Transport,
  prefix: string,
  blobIds: ReadonlyArray<string>,
): Promise<Map<string, FinalVersion[]>> => {
  const out = new Map<string, FinalVersion[]>()
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < blobIds.length; i = next++) {
      const id = blobIds[i]
      if (id !== undefined) out.set(id, await fetchOne(t, prefix, id))
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return out
}
