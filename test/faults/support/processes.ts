import { spawn, type ChildProcess } from "node:child_process"
import { resolve } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import type { NatsServerProcess } from "../../../infra/embedded-server.ts"

// Every process a fault test starts is tracked by pid here and stopped in afterAll, by pid:
// other nats-servers and services run on these machines and are none of our business.

const ROOT = resolve(import.meta.dirname, "../../..")

export class Tracked {
  private readonly servers: NatsServerProcess[] = []
  private readonly children = new Set<ChildProcess>()

  server<T extends NatsServerProcess>(s: T): T {
    this.servers.push(s)
    return s
  }

  /** `npx tsx services/blob-service/main.ts` (node + tsx directly: npx adds a second process). */
  async blobService(env: Record<string, string>, readyTimeoutMs = 30_000): Promise<ServiceProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", "services/blob-service/main.ts"], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "", UMBRA_ACTOR_IDLE_MS: "30000", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    })
    this.children.add(child)
    child.on("exit", () => this.children.delete(child))
    let out = ""
    // Counted as the output arrives: only its tail is kept.
    let unhandled = 0
    child.stdout?.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-4096)))
    child.stderr?.on("data", (d: Buffer) => {
      const text = d.toString()
      unhandled += text.split("unhandled rejection").length - 1
      out = (out + text).slice(-4096)
    })
    const until = Date.now() + readyTimeoutMs
    while (!/ready/.test(out)) {
      if (child.exitCode !== null || Date.now() > until) {
        child.kill("SIGKILL")
        throw new Error(`blob service did not start: ${out}`)
      }
      await sleep(50)
    }
    return {
      pid: child.pid ?? -1,
      output: () => out,
      unhandledRejections: () => unhandled,
      exited: () => (child.exitCode !== null ? `code ${child.exitCode}` : child.signalCode !== null ? `signal ${child.signalCode}` : undefined),
      kill9: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return
        const exited = new Promise<void>((r) => child.once("exit", () => r()))
        child.kill("SIGKILL")
        await exited
      },
    }
  }

  async stopAll(): Promise<void> {
    for (const c of this.children) c.kill("SIGKILL")
    await Promise.all(this.servers.map((s) => s.stop(true).catch(() => {})))
  }
}

export interface ServiceProcess {
  readonly pid: number
  output(): string
  /** How many unhandled rejections it reported (services/run-service.ts logs them and goes on). */
  unhandledRejections(): number
  /** How it ended, if it did. */
  exited(): string | undefined
  kill9(): Promise<void>
}
