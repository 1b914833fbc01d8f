import { createReadStream } from "node:fs"
import { writeFile } from "node:fs/promises"
import type { Readable, Writable } from "node:stream"
import { isUsageError, usageError } from "./args.ts"

// The CLI's only contact with the process: streams are passed in, so a command can be run
// in-process (tests, other tools) with any streams.

export interface Io {
  readonly stdin: Readable & { readonly isTTY?: boolean }
  readonly stdout: Writable & { readonly isTTY?: boolean }
  readonly stderr: Writable & { readonly isTTY?: boolean }
  readonly env: Readonly<Record<string, string | undefined>>
}

/** Largest input the CLI buffers: content is sent as one value, so it must fit in memory. */
export const MAX_INPUT_BYTES = 1024 * 1024 * 1024

const collect = async (source: Readable, what: string): Promise<Uint8Array> => {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of source) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer)
    size += b.length
    if (size > MAX_INPUT_BYTES) throw usageError(`${what} is larger than ${MAX_INPUT_BYTES} bytes`)
    chunks.push(b)
  }
  return new Uint8Array(Buffer.concat(chunks, size))
}

/** Content from a file, or from stdin for `-` or no argument (never from an interactive terminal). */
export const readInput = async (io: Io, file: string | undefined): Promise<Uint8Array> => {
  if (file !== undefined && file !== "-")
    return collect(createReadStream(file), file).catch((e: unknown) => {
      // A missing or unreadable file is the command line's mistake: say which file, no stack.
      throw isUsageError(e) ? e : usageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
    })
  if (io.stdin.isTTY === true) throw usageError("no content: give a file, or pipe it on stdin")
  return collect(io.stdin, "stdin")
}

const write = (stream: Writable, data: Uint8Array | string): Promise<void> =>
  new Promise((resolve, reject) => {
    stream.write(data, (err) => {
      // A closed pipe (`umbra get x | head`) is the reader's choice, not an error.
      if (err && (err as NodeJS.ErrnoException).code !== "EPIPE") reject(err)
      else resolve()
    })
  })

export const out = (io: Io, data: Uint8Array | string): Promise<void> => write(io.stdout, data)
export const err = (io: Io, line: string): Promise<void> => write(io.stderr, line.endsWith("\n") ? line : line + "\n")
export const outLine = (io: Io, line: string): Promise<void> => write(io.stdout, line + "\n")
export const outJson = (io: Io, value: unknown): Promise<void> => write(io.stdout, JSON.stringify(value) + "\n")
export const saveFile = (path: string, data: Uint8Array): Promise<void> => writeFile(path, data)
