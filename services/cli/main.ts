import process from "node:process"
import { runCli } from "./cli.ts"

// The `umbra` executable (bin/umbra.js loads this through tsx).

// A reader that stops early (`umbra get x | head`) closes the pipe: that ends our output,
// it is not a failure worth a stack trace.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e
})

const status = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
})
process.exitCode = status
// Output written by code that does not wait for it (a delegated runner) is flushed first.
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()))
// Everything is closed by now; this only guards against a stray handle keeping a
// finished command alive. Unref'd, it never delays a clean exit.
setTimeout(() => process.exit(status), 2_000).unref()
