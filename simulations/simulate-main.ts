/**
 * `umbra simulate <scenario> [--duration <s>] [--out <dir>] [--seed <n>] [--sim] [--echo] [--faults none|default]`
 *
 * Live (default): drives the real system over NATS (`NATS_URL`, or a stack it starts).
 * `--sim`: the deterministic simulator, same scenario on virtual time; prints a trace hash.
 * `--echo`: live, against an echo service: the driver's own capacity.
 * Exit status: 0 all checkers passed, 1 a checker failed (the seed and the replay command
 * are printed), 2 the command line or the scenario file is wrong.
 *
 * Runs on its own too: `npm run simulate -- smoke --duration 3`.
 */
import { existsSync } from "node:fs"
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { parseArgs } from "node:util"
import * as E from "fp-ts/lib/Either.js"
import { renderHtmlReport, renderTerminalSummary } from "./report-html.ts"
import { formatScenarioError, loadScenario, withDuration, type Scenario } from "./scenario.ts"

export interface SimulateIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
}

export const EXIT_CHECK_FAILED = 1
export const EXIT_USAGE = 2

export const SIMULATE_USAGE =
  "usage: umbra simulate <scenario name or file> [--duration <seconds>] [--out <dir>] [--seed <n>] [--sim] [--echo] [--faults none|default]"

interface Args {
  readonly scenarioArg: string
  readonly durationSec: number | undefined
  readonly outDir: string | undefined
  readonly seed: number | undefined
  readonly sim: boolean
  readonly echo: boolean
  readonly faults: "none" | "default"
}

const positiveNumber = (flag: string, v: string | undefined, integer: boolean): E.Either<string, number | undefined> => {
  if (v === undefined) return E.right(undefined)
  const n = Number(v)
  const ok = Number.isFinite(n) && n >= 0 && (!integer || Number.isSafeInteger(n)) && (integer || n > 0)
  return ok ? E.right(n) : E.left(`${flag} needs a ${integer ? "non-negative integer" : "positive number"}, got ${v}`)
}

export const parseSimulateArgs = (argv: ReadonlyArray<string>): E.Either<string, Args> => {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        duration: { type: "string" }, out: { type: "string" }, seed: { type: "string" },
        sim: { type: "boolean" }, echo: { type: "boolean" }, faults: { type: "string" },
      },
    })
  } catch (e) {
    return E.left(e instanceof Error ? e.message : String(e))
  }
  const { values, positionals } = parsed
  if (positionals.length !== 1 || positionals[0] === undefined) return E.left("give exactly one scenario")
  const duration = positiveNumber("--duration", values.duration, false)
  const seed = positiveNumber("--seed", values.seed, true)
  if (E.isLeft(duration)) return duration
  if (E.isLeft(seed)) return seed
  const faults = values.faults ?? "default"
  if (faults !== "none" && faults !== "default") return E.left(`--faults is none or default, got ${faults}`)
  if (values.sim === true && values.echo === true) return E.left("--sim and --echo do not go together")
  return E.right({
    scenarioArg: positionals[0], durationSec: duration.right, outDir: values.out, seed: seed.right,
    sim: values.sim === true, echo: values.echo === true, faults,
  })
}

/** A bare name means a shipped scenario (`smoke` → simulations/scenarios/smoke.yaml). */
export const scenarioPath = (arg: string): string => {
  if (existsSync(arg) || arg.includes("/") || /\.(ya?ml|json)$/.test(arg)) return arg
  return join("simulations", "scenarios", `${arg}.yaml`)
}

const runSim = async (scenario: Scenario, a: Args, outDir: string, io: SimulateIo): Promise<number> => {
  const { runSimulation } = await import("./sim/run-sim.ts")
  const { DEFAULT_FAULTS, NO_FAULTS } = await import("./sim/faults.ts")
  const r = await runSimulation(scenario, {
    knobs: a.faults === "none" ? NO_FAULTS : DEFAULT_FAULTS,
    scenarioArg: a.scenarioArg,
    ...(a.faults === "none" ? { knobsName: "none" } : {}),
  })
  await mkdir(outDir, { recursive: true })
  await writeFile(join(outDir, "report.json"), JSON.stringify(r.report, null, 2) + "\n")
  await writeFile(join(outDir, "report.html"), renderHtmlReport(r.report))
  io.stdout(`${renderTerminalSummary(r.report)}\n  trace      ${r.traceLength} entries, sha256 ${r.traceHash}\n  report     ${outDir}/report.html\n`)
  if (!r.checks.ok) io.stderr(`simulation failed with seed ${scenario.seed}; replay: ${r.replayCommand}\n`)
  return r.checks.ok ? 0 : EXIT_CHECK_FAILED
}

const runLiveCommand = async (scenario: Scenario, a: Args, outDir: string, io: SimulateIo): Promise<number> => {
  const { runLive } = await import("./live-runner.ts")
  const natsUrl = io.env["NATS_URL"]
  const r = await runLive(scenario, {
    outDir,
    onProgress: (line) => io.stderr(`${line}\n`),
    scenarioArg: a.scenarioArg,
    echo: a.echo,
    ...(natsUrl === undefined || natsUrl === "" ? {} : { natsUrl }),
  })
  io.stdout(`${r.summary}\n  report     ${outDir}/report.html\n`)
  if (r.exitCode !== 0) io.stderr(`simulation failed with seed ${scenario.seed}; replay: ${r.report.meta.replayCommand}\n`)
  return r.exitCode
}

export const runSimulateCommand = async (argv: ReadonlyArray<string>, io: SimulateIo): Promise<number> => {
  const args = parseSimulateArgs(argv)
  if (E.isLeft(args)) {
    io.stderr(`umbra simulate: ${args.left}\n${SIMULATE_USAGE}\n`)
    return EXIT_USAGE
  }
  const a = args.right
  const loaded = await loadScenario(scenarioPath(a.scenarioArg))
  if (E.isLeft(loaded)) {
    io.stderr(loaded.left.map(formatScenarioError).join("\n") + "\n")
    return EXIT_USAGE
  }
  const seeded = a.seed === undefined ? loaded.right : { ...loaded.right, seed: a.seed }
  const scenario = a.durationSec === undefined ? seeded : withDuration(seeded, a.durationSec)
  const outDir = a.outDir ?? join("simulation-reports", `${scenario.name}-${a.sim ? "sim" : a.echo ? "echo" : "live"}`)
  return a.sim ? runSim(scenario, a, outDir, io) : runLiveCommand(scenario, a, outDir, io)
}

// Run directly (`npm run simulate -- ...` or `npx tsx simulations/simulate-main.ts ...`).
if (import.meta.url === `file://${process.argv[1]}`) {
  const status = await runSimulateCommand(process.argv.slice(2), {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    env: process.env,
  })
  process.exitCode = status
  setTimeout(() => process.exit(status), 2_000).unref()
}
