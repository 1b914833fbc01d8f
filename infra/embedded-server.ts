import { spawn, type ChildProcess } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"

// Starts a nats-server process of our own: `npm start` when none is reachable, and every
// integration test (random free port, its own store dir, stopped afterwards).

export interface NatsServerOptions {
  /** -1 (default) lets the server pick a free port, read back from its ports file. */
  readonly port?: number
  readonly storeDir?: string
  readonly configFile?: string
  readonly extraArgs?: ReadonlyArray<string>
  readonly host?: string
  readonly startTimeoutMs?: number
  readonly logFile?: string
}

export interface NatsServerProcess {
  readonly url: string
  readonly port: number
  readonly storeDir: string
  pid(): number
  /** SIGTERM and wait; the store dir is kept unless `removeStore`. */
  stop(removeStore?: boolean): Promise<void>
  /** Sends a signal without waiting (e.g. SIGKILL, SIGSTOP, SIGCONT). */
  signal(sig: NodeJS.Signals): void
  /**
   * SIGSTOP, resolved once the server has really stopped. kill(2) only marks the signal
   * pending: on a loaded machine the server's threads can go on answering for milliseconds
   * until the scheduler runs them, long enough to serve a whole request.
   */
  pause(): Promise<void>
  /** Starts the server again on the same port and store (after a kill). */
  restart(): Promise<void>
}

/**
 * Waits until /proc shows every thread of `pid` stopped ('T'; a zombie or dead thread runs no
 * more either); where there is no /proc, a short wait. Throws if the process is gone.
 */
const allThreadsStopped = async (pid: number, deadline: number): Promise<void> => {
  const tasks = `/proc/${pid}/task`
  if (!existsSync("/proc/self/task")) return sleep(50)
  const halted = (tid: string): boolean => {
    try {
      // The state follows the parenthesised command name, which may itself hold spaces.
      const stat = readFileSync(join(tasks, tid, "stat"), "utf8")
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
      return state === "T" || state === "t" || state === "Z" || state === "X"
    } catch {
      return true // the thread is gone
    }
  }
  for (;;) {
    let threads: string[]
    try {
      threads = readdirSync(tasks)
    } catch {
      throw new Error(`nats-server ${pid} is not running`)
    }
    if (threads.every(halted)) return
    if (Date.now() > deadline) throw new Error(`nats-server ${pid} did not stop within the deadline`)
    await sleep(1)
  }
}

export const natsServerBinary = (): string => {
  const fromEnv = process.env["NATS_SERVER_BIN"]
  if (fromEnv) return fromEnv
  for (const p of ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]) if (existsSync(p)) return p
  return "nats-server"
}

const readPort = async (dir: string, pid: number, deadline: number, child: ChildProcess): Promise<number> => {
  const file = join(dir, `nats-server_${pid}.ports`)
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}`)
    if (existsSync(file)) {
      try {
        const ports = JSON.parse(readFileSync(file, "utf8")) as { nats?: string[] }
        const url = ports.nats?.[0]
        if (url) return Number(new URL(url).port)
      } catch {
        // written but not complete yet
      }
    }
    await sleep(20)
  }
  throw new Error("nats-server did not report its port in time")
}

export const startNatsServer = async (opts: NatsServerOptions = {}): Promise<NatsServerProcess> => {
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), "umbra-nats-"))
  mkdirSync(storeDir, { recursive: true })
  const portsDir = mkdtempSync(join(tmpdir(), "umbra-ports-"))
  let port = opts.port ?? -1
  let child: ChildProcess

  const launch = async (): Promise<void> => {
    for (const f of readdirSync(portsDir)) rmSync(join(portsDir, f), { force: true })
    const args = [
      ...(opts.configFile ? ["-c", opts.configFile] : []),
      "-a", opts.host ?? "127.0.0.1",
      "-p", String(port),
      "-js",
      "-sd", storeDir,
      "--ports_file_dir", portsDir,
      ...(opts.logFile ? ["-l", opts.logFile] : []),
      ...(opts.extraArgs ?? []),
    ]
    child = spawn(natsServerBinary(), args, { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr?.on("data", (d: Buffer) => {
      if (stderr.length < 8192) stderr += d.toString()
    })
    const pid = child.pid
    if (pid === undefined) throw new Error("could not spawn nats-server")
    try {
      port = await readPort(portsDir, pid, Date.now() + (opts.startTimeoutMs ?? 15_000), child)
    } catch (e) {
      child.kill("SIGKILL")
      throw new Error(`${(e as Error).message}\n${stderr}`)
    }
  }

  const waitExit = (c: ChildProcess): Promise<void> =>
    c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once("exit", () => r()))

  await launch()
  return {
    get url() {
      return `nats://127.0.0.1:${port}`
    },
    get port() {
      return port
    },
    storeDir,
    pid: () => child.pid ?? -1,
    signal: (sig) => {
      child.kill(sig)
    },
    pause: async () => {
      const pid = child.pid
      if (pid === undefined || child.exitCode !== null || child.signalCode !== null) throw new Error("nats-server is not running")
      child.kill("SIGSTOP")
      await allThreadsStopped(pid, Date.now() + 5_000)
    },
    stop: async (removeStore = false) => {
      const c = child
      if (c.exitCode === null && c.signalCode === null) {
        c.kill("SIGCONT")
        c.kill("SIGTERM")
        const timer = setTimeout(() => c.kill("SIGKILL"), 5_000)
        await waitExit(c)
        clearTimeout(timer)
      }
      rmSync(portsDir, { recursive: true, force: true })
      if (removeStore) rmSync(storeDir, { recursive: true, force: true })
    },
    restart: async () => {
      const c = child
      if (c.exitCode === null && c.signalCode === null) {
        c.kill("SIGKILL")
        await waitExit(c)
      }
      await launch()
    },
  }
}
