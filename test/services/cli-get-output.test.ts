import { PassThrough } from "node:stream"
import { describe, expect, it } from "vitest"
import type { BlobId } from "../../domain/blob-id.ts"
import type { ReadResult } from "../../infra/client/types.ts"
import type { Io } from "../../services/cli/io.ts"
import { printHuman } from "../../services/cli/get.ts"

// `umbra get` keeps stdout exactly the content; on a terminal the metadata on stderr starts
// on a line of its own even when the content has no final newline.

const tty = (isTTY: boolean) => {
  const s = Object.assign(new PassThrough(), { isTTY })
  let text = ""
  s.on("data", (d: Buffer) => (text += d.toString()))
  return { s, text: () => text }
}

const run = async (content: string, isTTY: boolean) => {
  const out = tty(isTTY)
  const err = tty(isTTY)
  const io: Io = { stdin: new PassThrough(), stdout: out.s, stderr: err.s, env: {} }
  const r: ReadResult = { id: "cli/x" as BlobId, content: new TextEncoder().encode(content), version: 1, digest: "sha256:00", source: "primary" }
  await printHuman(io, r, undefined, true)
  return { stdout: out.text(), stderr: err.text() }
}

describe("umbra get output", () => {
  it("on a terminal, metadata after content without a final newline starts on a new line", async () => {
    const r = await run("no newline", true)
    expect(r.stdout).toBe("no newline")
    expect(r.stderr).toMatch(/^\nid:\s+cli\/x\n/)
  })

  it("adds nothing when the content ends with a newline, or when output is not a terminal", async () => {
    expect((await run("line\n", true)).stderr).toMatch(/^id:/)
    const piped = await run("no newline", false)
    expect(piped.stdout).toBe("no newline")
    expect(piped.stderr).toMatch(/^id:/)
  })
})
