import { spawn, type ChildProcess } from "node:child_process"
import { appendFileSync, readFileSync } from "node:fs"
import { resolve } from "node:path"
import { SERVICE_NODE_FLAGS } from "../services/node-flags.ts"

// Every service the bench measures runs in a child process of its own (the driver stays in
// the bench process), as a deployment would run it. Children are tracked so that they are
// stopped at the end, even when the bench fails.

export interface Child {
  readonly name: string
  readonly pid: number
  signal(sig: NodeJS.Signals): void
  /** Resolves once the process has exited (a signalled process may answer for a moment yet). */
  exited(): Promise<void>
  /** Resident set size in bytes (VmRSS from /proc). */
  rssBytes(): number
  stop(): Promise<void>
}

const live = new Set<ChildProcess>()

// Diagnostics (bench/gc-timeline.ts): BENCH_CHILD_LOG_DIR appends each service process's output
// to `<dir>/<name>.log`, with simulations/gc-observer.ts preloaded so that it prints its GC pauses on
// its own clock; BENCH_CHILD_NODE_FLAGS adds node flags to every service process (separated by
// spaces, or a JSON array of strings).

/** Flags separated by spaces, or a JSON array of strings when a flag's value holds a space. */
export const parseNodeFlags = (v: string): string[] => {
  if (!v.trimStart().startsWith("[")) return v.split(/\s+/).filter((f) => f !== "")
  const parsed: unknown = JSON.parse(v)
  if (!Array.isArray(parsed) || !parsed.every((f) => typeof f === "string")) throw new Error(`BENCH_CHILD_NODE_FLAGS: not a JSON array of strings: ${v}`)
  return parsed
}
const childFlags = parseNodeFlags(process.env["BENCH_CHILD_NODE_FLAGS"] ?? "")
const childLogDir = process.env["BENCH_CHILD_LOG_DIR"]

/** Appends a child's stream to its log, a whole line at a time (lines of stdout and stderr do not mix). */
const childLog = (name: string): { write(d: Buffer): void; end(): void } => {
  let partial = ""
  const file = `${childLogDir}/${name}.log`
  return {
    write: (d) => {
      const lines = (partial + d.toString()).split("\n")
      partial = lines.pop() ?? ""
      if (lines.length > 0) appendFileSync(file, lines.map((l) => `${l}\n`).join(""))
    },
    end: () => {
      if (partial !== "") appendFileSync(file, `${partial}\n`)
      partial = ""
    },
  }
}

/** Children that exited while in use (not stopped by the bench): name, exit status, stderr tail. */
export const unexpectedExits: string[] = []

/** SIGKILLs every child still running (process exit, crash). Only pids we spawned. */
export const killAllChildren = (): void => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  live.clear()
}

export const vmRssBytes = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  return m === null ? Number.NaN : Number(m[1]) * 1024
}

const CLK_TCK = 100

/** User + system CPU time of a process so far, in ms (/proc/<pid>/stat utime + stime). */
export const cpuMs = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK
  } catch {
    return Number.NaN
  }
}

/** Read and write syscalls of a process so far (/proc/<pid>/io syscr, syscw). */
export const syscalls = (pid: number): { r: number; w: number } => {
  const t = readFileSync(`/proc/${pid}/io`, "utf8")
  return { r: Number(/syscr: (\d+)/.exec(t)?.[1]), w: Number(/syscw: (\d+)/.exec(t)?.[1]) }
}

export interface SpawnOptions {
  readonly name: string
  /** A TypeScript entry point, run with `node --import tsx`. */
  readonly script: string
  readonly args?: ReadonlyArray<string>
  readonly env?: Record<string, string>
  /** Printed on stdout when the child is ready. */
  readonly ready: RegExp
  /** Extra node flags, e.g. `--cpu-prof`. */
  readonly nodeFlags?: ReadonlyArray<string>
  /** Modules preloaded after tsx (TypeScript allowed), e.g. the bench's CPU profiler. */
  readonly preload?: ReadonlyArray<string>
  readonly readyTimeoutMs?: number
}

export const spawnTs = (o: SpawnOptions): Promise<Child> =>
  new Promise((resolvePromise, reject) => {
    // Services run with the flags they are deployed with (the baselines too: it changes nothing for them).
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...childFlags, ...(o.nodeFlags ?? []), "--import", "tsx", ...[...(o.preload ?? []), ...(childLogDir === undefined ? [] : ["simulations/gc-observer.ts"])].flatMap((p) => ["--import", resolve(p)]), resolve(o.script), ...(o.args ?? [])], {
      env: { ...process.env, ...o.env, ...(childLogDir === undefined ? {} : { BENCH_GC_OBSERVE: "1" }) },
      stdio: ["ignore", "pipe", "pipe"],
    })
    live.add(child)
    const logs = childLogDir === undefined ? undefined : [childLog(o.name), childLog(o.name)]
    let out = ""
    let err = ""
    let ready = false
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${o.name} not ready within ${o.readyTimeoutMs ?? 60_000} ms\n${out}\n${err}`))
    }, o.readyTimeoutMs ?? 60_000)
    child.stdout?.on("data", (d: Buffer) => {
      logs?.[0]?.write(d)
      if (ready) return
      out += d.toString()
      if (o.ready.test(out)) {
        ready = true
        clearTimeout(timer)
        resolvePromise(handle)
      }
    })
    child.stderr?.on("data", (d: Buffer) => {
      logs?.[1]?.write(d)
      if (err.length < 16_384) err += d.toString()
    })
    let stopping = false
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    child.on("exit", (code, signal) => {
      for (const l of logs ?? []) l.end()
      live.delete(child)
      if (ready && !stopping) unexpectedExits.push(`${o.name} (pid ${child.pid}) exited on its own (${code ?? signal}): ${err.slice(-1500)}`)
      if (!ready) {
        clearTimeout(timer)
        reject(new Error(`${o.name} exited (${code ?? signal}) before it was ready\n${out}\n${err}`))
      }
    })
    const handle: Child = {
      name: o.name,
      pid: child.pid ?? -1,
      signal: (sig) => {
        // An exit the bench caused itself (a kill -9 of the re-own case) is not "on its own".
        if (sig === "SIGKILL" || sig === "SIGTERM") stopping = true
        child.kill(sig)
      },
      exited: () => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : exited),
      rssBytes: () => vmRssBytes(child.pid ?? -1),
      stop: () =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done()
          // SIGTERM lets the service drain (and a --cpu-prof child write its profile).
          stopping = true
          const kill = setTimeout(() => child.kill("SIGKILL"), 15_000)
          child.once("exit", () => {
            clearTimeout(kill)
            live.delete(child)
            done()
          })
          child.kill("SIGTERM")
        }),
    }
  })

export const BLOB_SERVICE_READY = /umbra blob service .* ready on/

/** One blob-service process (`services/blob-service/main.ts`), configured by environment. */
export const startBlobServiceChild = (
  natsUrl: string,
  name: string,
  env: Record<string, string> = {},
  profileTo?: string,
): Promise<Child> =>
  spawnTs({
    name,
    script: "services/blob-service/main.ts",
    env: { NATS_URL: natsUrl, UMBRA_INSTANCE_ID: name, ...env, ...(profileTo === undefined ? {} : { BENCH_CPU_PROFILE: profileTo }) },
    ready: BLOB_SERVICE_READY,
    ...(profileTo === undefined ? {} : { preload: ["bench/cpu-profiler.ts"] }),
  })

/** A baseline responder (`bench/baseline-service.ts echo|thin-write`). */
export const startBaselineChild = (natsUrl: string, mode: "echo" | "thin-write" | "wire-write", profileTo?: string): Promise<Child> =>
  spawnTs({
    name: `baseline-${mode}`,
    script: "bench/baseline-service.ts",
    args: [mode],
    env: { NATS_URL: natsUrl, ...(profileTo === undefined ? {} : { BENCH_CPU_PROFILE: profileTo }) },
    ready: /baseline .* ready/,
    ...(profileTo === undefined ? {} : { preload: ["bench/cpu-profiler.ts"] }),
  })

/** Runs a TypeScript program to completion and returns its stdout (e.g. a JSON report). */
export const runTsToCompletion = (script: string, args: ReadonlyArray<string>, nodeFlags: ReadonlyArray<string> = [], timeoutMs = 300_000): Promise<string> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, "--import", "tsx", resolve(script), ...args], { stdio: ["ignore", "pipe", "pipe"] })
    live.add(child)
    let out = ""
    let err = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr?.on("data", (d: Buffer) => {
      if (err.length < 16_384) err += d.toString()
    })
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      live.delete(child)
      if (code === 0) resolvePromise(out)
      else reject(new Error(`${script} exited with ${code ?? signal}\n${err}`))
    })
  })
