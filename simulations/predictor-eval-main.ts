import * as E from "fp-ts/lib/Either.js"
import { evaluate, renderHtml, renderTerminal, summaryJson, type EvalRecord } from "./predictor-eval.ts"
import { SCENARIO_NAMES, scenarioHistory, type ScenarioName } from "./generators/value-shapes.ts"

// `umbra predictor eval`: replay a generated scenario or a recorded JSONL history through the
// predictor in shadow mode. The CLI wires runPredictorEval; this file also runs on its own:
//   npx tsx simulations/predictor-eval-main.ts --scenario structured --versions 200000

export interface EvalIo {
  readonly stdout: (text: string) => void
  readonly readFile: (path: string) => Promise<string>
  readonly writeFile: (path: string, data: string) => Promise<void>
  readonly now?: () => number
}

export interface EvalOptions {
  readonly source: { readonly kind: "scenario"; readonly name: ScenarioName } | { readonly kind: "history"; readonly path: string }
  readonly json: boolean
  readonly html: string | undefined
  readonly seed: number
  readonly versions: number
  readonly threshold: number | undefined
}

export type EvalError =
  | { readonly _tag: "InvalidArgument"; readonly message: string }
  | { readonly _tag: "InvalidHistoryLine"; readonly line: number; readonly message: string }

const invalid = (message: string): EvalError => ({ _tag: "InvalidArgument", message })

const positiveInt = (flag: string, v: string | undefined): E.Either<EvalError, number> => {
  const n = Number(v)
  return Number.isSafeInteger(n) && n >= 0 ? E.right(n) : E.left(invalid(`${flag} needs a non-negative integer, got ${v ?? "nothing"}`))
}

export const parseArgs = (argv: readonly string[]): E.Either<EvalError, EvalOptions> => {
  let scenario: string | undefined
  let history: string | undefined
  let json = false
  let html: string | undefined
  let seed = 1
  let versions = 100_000
  let threshold: number | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = (): string | undefined => argv[++i]
    switch (a) {
      case "--scenario":
        scenario = next()
        break
      case "--history":
        history = next()
        break
      case "--json":
        json = true
        break
      case "--html":
        html = next()
        break
      case "--seed": {
        const r = positiveInt(a, next())
        if (E.isLeft(r)) return r
        seed = r.right
        break
      }
      case "--versions": {
        const r = positiveInt(a, next())
        if (E.isLeft(r)) return r
        versions = r.right
        break
      }
      case "--threshold": {
        const t = Number(next())
        if (!(t >= 0 && t <= 1)) return E.left(invalid("--threshold needs a number in [0, 1]"))
        threshold = t
        break
      }
      default:
        return E.left(invalid(`unknown argument ${a ?? ""}`))
    }
  }
  if ((scenario === undefined) === (history === undefined)) return E.left(invalid("give exactly one of --scenario <name> or --history <file.jsonl>"))
  if (scenario !== undefined && !SCENARIO_NAMES.includes(scenario as ScenarioName)) {
    return E.left(invalid(`--scenario must be one of ${SCENARIO_NAMES.join(", ")}`))
  }
  const source = scenario !== undefined ? { kind: "scenario" as const, name: scenario as ScenarioName } : { kind: "history" as const, path: history ?? "" }
  return E.right({ source, json, html, seed, versions, threshold })
}

const parseLine = (text: string, line: number): E.Either<EvalError, EvalRecord> => {
  const bad = (message: string): E.Either<EvalError, EvalRecord> => E.left({ _tag: "InvalidHistoryLine", line, message })
  const parsed = E.tryCatch(() => JSON.parse(text) as unknown, () => "not JSON")
  if (E.isLeft(parsed)) return bad("not JSON")
  const o = parsed.right as Record<string, unknown>
  if (typeof o !== "object" || o === null) return bad("not an object")
  if (typeof o["id"] !== "string" || o["id"].length === 0) return bad("missing id")
  if (typeof o["time"] !== "number") return bad("missing numeric time")
  if (!("json" in o) && typeof o["base64"] !== "string") return bad("needs json or base64")
  const truth = o["truth"] as EvalRecord["truth"]
  return E.right({
    id: o["id"],
    time: o["time"],
    ...("json" in o ? { json: o["json"] } : { base64: o["base64"] as string }),
    ...(truth !== undefined ? { truth } : {}),
  })
}

export const parseHistory = (text: string): E.Either<EvalError, EvalRecord[]> => {
  const out: EvalRecord[] = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const l = (lines[i] as string).trim()
    if (l === "") continue
    const r = parseLine(l, i + 1)
    if (E.isLeft(r)) return r
    out.push(r.right)
  }
  return E.right(out)
}

const describe = (e: EvalError): string => (e._tag === "InvalidHistoryLine" ? `history line ${e.line}: ${e.message}` : e.message)

/** Returns the exit code: 0 ok, 2 bad input. */
export const runPredictorEval = async (argv: readonly string[], io: EvalIo): Promise<number> => {
  const opts = parseArgs(argv)
  if (E.isLeft(opts)) {
    io.stdout(`error: ${describe(opts.left)}\n`)
    return 2
  }
  const o = opts.right
  const records =
    o.source.kind === "scenario" ? E.right(scenarioHistory(o.source.name, o.seed, o.versions)) : parseHistory(await io.readFile(o.source.path))
  if (E.isLeft(records)) {
    io.stdout(`error: ${describe(records.left)}\n`)
    return 2
  }
  const title = o.source.kind === "scenario" ? `scenario ${o.source.name} (seed ${o.seed})` : `history ${o.source.path}`
  const report = evaluate(records.right, { seed: o.seed, ...(o.threshold !== undefined ? { serveThreshold: o.threshold } : {}) }, io.now)
  io.stdout(o.json ? JSON.stringify(summaryJson(report)) + "\n" : renderTerminal(report, title))
  if (o.html !== undefined) await io.writeFile(o.html, renderHtml(report, `Umbra predictor: ${title}`))
  return 0
}

const isMain = (): boolean => (process.argv[1] ?? "").endsWith("predictor-eval-main.ts")

if (isMain()) {
  const fs = await import("node:fs/promises")
  const code = await runPredictorEval(process.argv.slice(2), {
    stdout: (t) => void process.stdout.write(t),
    readFile: (p) => fs.readFile(p, "utf8"),
    writeFile: (p, d) => fs.writeFile(p, d),
    now: () => performance.now(),
  })
  process.exitCode = code
}
