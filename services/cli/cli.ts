import { isUmbraClientError, type UmbraClient } from "../../infra/client/umbra-client.ts"
import { flag, GLOBAL_OPTIONS, isUsageError, locateCommand, parseStrict, type OptionSpec } from "./args.ts"
import { auditCommand } from "./audit.ts"
import type { Command, CommandContext } from "./command.ts"
import { connectFromFlags } from "./connect.ts"
import { getCommand } from "./get.ts"
import { historyCommand } from "./history.ts"
import { err, outJson, outLine, type Io } from "./io.ts"
import { patchCommand } from "./patch.ts"
import { predictorCommand } from "./predictor.ts"
import { putCommand } from "./put.ts"
import { restoreCommand } from "./restore.ts"
import { rmCommand } from "./rm.ts"
import { shadowCommand } from "./shadow.ts"
import { simulateCommand } from "./simulate.ts"
import { statsCommand } from "./stats.ts"
import { topCommand } from "./top.ts"
import { trainCommand } from "./train.ts"

// `umbra <command> ...`: finds the command, parses its flags, runs it, and turns every
// failure into one line `umbra: CODE: message` on stderr and a non-zero exit status.

export const COMMANDS: ReadonlyArray<Command> = [
  putCommand,
  getCommand,
  patchCommand,
  rmCommand,
  historyCommand,
  restoreCommand,
  auditCommand,
  shadowCommand,
  predictorCommand,
  trainCommand,
  simulateCommand,
  statsCommand,
  topCommand,
]

/** Exit statuses: 1 the request failed, 2 the command line was wrong. */
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

const GLOBAL_USAGE = `global flags:
  -s, --server url      NATS server(s), comma-separated (env NATS_URL, default nats://127.0.0.1:4222)
  --user u --password p NATS user and password (env NATS_USER, NATS_PASS)
  --token t             NATS token (env NATS_TOKEN)
  --tls-ca f --tls-cert f --tls-key f   TLS files: the CA, a client certificate and its key
                        (env NATS_CA, NATS_CERT, NATS_KEY)
  --timeout d           per-request timeout: 5000, 500ms, 5s (default 5s)
  --json                machine-readable output (one JSON value per line)
  -h, --help            this help`

const usage = (): string =>
  ["usage: umbra <command> [flags]", "", "commands:", ...COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}\n             umbra ${c.usage}`), "", GLOBAL_USAGE].join("\n")

const allOptions = (): OptionSpec => Object.assign({}, GLOBAL_OPTIONS, ...COMMANDS.map((c) => c.options)) as OptionSpec

const reportFailure = async (io: Io, json: boolean, e: unknown): Promise<number> => {
  if (isUsageError(e)) {
    await err(io, `umbra: USAGE: ${e.message} (see umbra --help)`)
    return EXIT_USAGE
  }
  const code = isUmbraClientError(e) ? e.code : "INTERNAL"
  const message = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ")
  if (json) await outJson(io, { error: isUmbraClientError(e) ? e.toJSON() : { code, message } })
  await err(io, `umbra: ${code}: ${message}`)
  return EXIT_FAILURE
}

const runCommand = async (cmd: Command, rest: ReadonlyArray<string>, io: Io, state: { client?: Promise<UmbraClient> }): Promise<number> => {
  const parsed = cmd.passThrough === true ? { values: {}, positionals: [] } : parseStrict(rest, cmd.options)
  if (flag(parsed.values, "help")) {
    await outLine(io, `usage: umbra ${cmd.usage}\n\n${GLOBAL_USAGE}`)
    return 0
  }
  const ctx: CommandContext = {
    values: parsed.values,
    positionals: parsed.positionals,
    raw: rest,
    json: flag(parsed.values, "json"),
    io,
    client: () => (state.client ??= connectFromFlags(parsed.values, io)),
  }
  return cmd.run(ctx)
}

export const runCli = async (argv: ReadonlyArray<string>, io: Io): Promise<number> => {
  const state: { client?: Promise<UmbraClient> } = {}
  const json = argv.includes("--json")
  try {
    const { command, rest } = locateCommand(argv, allOptions())
    if (command === undefined) {
      const help = argv.includes("--help") || argv.includes("-h")
      await (help ? outLine(io, usage()) : err(io, usage()))
      return help ? 0 : EXIT_USAGE
    }
    const cmd = COMMANDS.find((c) => c.name === command)
    if (cmd === undefined) return await reportFailure(io, json, { _tag: "UsageError", message: `unknown command "${command}"` })
    return await runCommand(cmd, rest, io, state)
  } catch (e) {
    return reportFailure(io, json, e)
  } finally {
    const client = await state.client?.catch(() => undefined)
    await client?.close()
  }
}
