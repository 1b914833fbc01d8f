import type { UmbraClient } from "../../infra/client/umbra-client.ts"
import type { OptionSpec, Values } from "./args.ts"
import type { Io } from "./io.ts"

// What every command file exports: its flags, its help, and a run function that returns the
// exit status. Failures are thrown as UmbraClientError or UsageError and reported in one place.

export interface CommandContext {
  readonly values: Values
  readonly positionals: ReadonlyArray<string>
  /** The arguments after the command word, unparsed (for commands that delegate). */
  readonly raw: ReadonlyArray<string>
  readonly json: boolean
  readonly io: Io
  /** Connects on first use, so commands that need no server never touch one. */
  client(): Promise<UmbraClient>
}

export interface Command {
  readonly name: string
  readonly summary: string
  readonly usage: string
  readonly options: OptionSpec
  /** Parse nothing: the command takes its raw arguments (e.g. `predictor eval ...`). */
  readonly passThrough?: boolean
  run(ctx: CommandContext): Promise<number>
}
