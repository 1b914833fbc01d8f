/**
 * A service of the system under test as a child process of the runner, so that a
 * `kill-service` fault is a real SIGKILL. Started with `node --import tsx` rather than
 * `npx tsx`: npx would put a wrapper process in between, and the signal would kill the
 * wrapper and leave the service running.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { resolve } from "node:path"

export interface ServiceProcess {
  readonly name: string
  readonly pid: () => number
  readonly kill: (signal: NodeJS.Signals) => void
  /** Starts it again after a kill; waits until it says it is ready. */
  readonly restart: () => Promise<void>
  readonly stop: () => Promise<void>
}

const waitReady = (child: ChildProcess, name: string, readyText: string, timeoutMs: number): Promise<void> =>
  new Promise((ok, fail) => {
    let output = ""
    const timer = setTimeout(() => fail(new Error(`${name} not ready after ${timeoutMs} ms:\n${output}`)), timeoutMs)
    const onData = (d: Buffer): void => {
      output = (output + d.toString()).slice(-8192)
      if (output.includes(readyText)) {
        clearTimeout(timer)
        ok()
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-8192)))
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      fail(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output}`))
    })
  })

const exited = (c: ChildProcess): Promise<void> =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once("exit", () => r()))

export const startServiceProcess = async (
  name: string,
  script: string,
  env: Readonly<Record<string, string>>,
  readyText: string,
): Promise<ServiceProcess> => {
  let child: ChildProcess
  const launch = async (): Promise<void> => {
    child = spawn(process.execPath, ["--import", "tsx", resolve(script)], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    })
    await waitReady(child, name, readyText, 60_000)
    // Keep draining its output so a chatty service never blocks on a full pipe.
    child.stdout?.resume()
    child.stderr?.resume()
  }
  await launch()
  return {
    name,
    pid: () => child.pid ?? -1,
    kill: (signal) => void child.kill(signal),
    restart: async () => {
      const c = child
      if (c.exitCode === null && c.signalCode === null) {
        c.kill("SIGKILL")
        await exited(c)
      }
      await launch()
    },
    stop: async () => {
      const c = child
      if (c.exitCode !== null || c.signalCode !== null) return
      c.kill("SIGTERM")
      const timer = setTimeout(() => c.kill("SIGKILL"), 5_000)
      await exited(c)
      clearTimeout(timer)
    },
  }
}
