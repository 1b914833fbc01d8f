import { spawn, type ChildProcess } from "node:child_process"
import { resolve } from "node:path"

// A blob-service instance as its own process, so a test can kill -9 or SIGSTOP it.

export interface ServiceProcess {
  readonly instance: string
  readonly child: ChildProcess
  output(): string
  signal(sig: NodeJS.Signals): void
  stop(): Promise<void>
}

const ROOT = resolve(import.meta.dirname, "../..")

export const startServiceProcess = async (
  entry: string,
  instance: string,
  env: Record<string, string>,
  readyPattern = /ready/,
  timeoutMs = 30_000,
): Promise<ServiceProcess> => {
  const child = spawn(process.execPath, ["--import", "tsx", resolve(ROOT, entry)], {
    cwd: ROOT,
    env: { ...process.env, UMBRA_INSTANCE_ID: instance, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  let out = ""
  const onData = (d: Buffer) => {
    if (out.length < 64_000) out += d.toString()
  }
  child.stdout?.on("data", onData)
  child.stderr?.on("data", onData)
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${instance} not ready in time:\n${out}`)), timeoutMs)
    const check = () => {
      if (readyPattern.test(out)) {
        clearTimeout(timer)
        ok()
      }
    }
    child.stdout?.on("data", check)
    child.once("exit", (code) => {
      clearTimeout(timer)
      fail(new Error(`${instance} exited with ${code}:\n${out}`))
    })
  })
  const exited = new Promise<void>((r) => child.once("exit", () => r()))
  return {
    instance,
    child,
    output: () => out,
    signal: (sig) => {
      child.kill(sig)
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill("SIGCONT")
      child.kill("SIGTERM")
      const t = setTimeout(() => child.kill("SIGKILL"), 5_000)
      await exited
      clearTimeout(t)
    },
  }
}
