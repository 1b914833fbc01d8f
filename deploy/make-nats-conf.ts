import bcrypt from "bcryptjs"
import { randomBytes } from "node:crypto"
import { writeFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { pathToFileURL } from "node:url"
import { passwordEnvOf, referenceNatsConf, renderNatsConf, ROLES, type RenderOptions, type Role } from "./nats-roles.ts"

// Renders nats.conf with Umbra's roles from secrets in the environment. The secrets never
// reach the repo: the config holds bcrypt hashes only, and is written with mode 0600.
//
//   UMBRA_SERVICE_PASSWORD=… UMBRA_WRITER_PASSWORD=… UMBRA_READER_PASSWORD=… UMBRA_AUDITOR_PASSWORD=… \
//     npx tsx deploy/make-nats-conf.ts -o umbra.conf [--listen 0.0.0.0:4222] [--tls-cert f --tls-key f]
//   npx tsx deploy/make-nats-conf.ts --hash <password>     one bcrypt hash
//   npx tsx deploy/make-nats-conf.ts --reference           the checked-in nats.conf (hashes from env)

/** Cost 11: ~0.1 s per check, paid by the server on every connect (and reconnect). */
export const BCRYPT_COST = 11

export const hashPassword = (password: string, cost = BCRYPT_COST): string => bcrypt.hashSync(password, cost)

export const randomPassword = (): string => randomBytes(24).toString("base64url")

export type Secrets = Readonly<Record<Role, string>>

/** Passwords from the environment; a missing one is generated when `generate`, else an error. */
export const secretsFromEnv = (env: NodeJS.ProcessEnv, generate: boolean): { secrets: Secrets; generated: Role[] } => {
  const generated: Role[] = []
  const entries = ROLES.map((r): [Role, string] => {
    const v = env[passwordEnvOf(r)]
    if (v !== undefined && v !== "") return [r, v]
    if (!generate) throw new Error(`${passwordEnvOf(r)} is not set`)
    generated.push(r)
    return [r, randomPassword()]
  })
  return { secrets: Object.fromEntries(entries) as Record<Role, string>, generated }
}

export const renderWithSecrets = (
  secrets: Secrets,
  o: Omit<RenderOptions, "passwords"> & { readonly cost?: number } = {},
): string => {
  const { cost, ...rest } = o
  const passwords = Object.fromEntries(ROLES.map((r) => [r, { hash: hashPassword(secrets[r], cost) }])) as RenderOptions["passwords"]
  return renderNatsConf({ ...rest, passwords })
}

export const writeSecretFile = (path: string, text: string): void => writeFileSync(path, text, { mode: 0o600 })

const main = (): void => {
  const { values } = parseArgs({
    options: {
      out: { type: "string", short: "o" },
      listen: { type: "string" },
      http: { type: "string" },
      "server-name": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      hash: { type: "string" },
      reference: { type: "boolean" },
      generate: { type: "boolean" },
    },
  })
  if (values.hash !== undefined) return void process.stdout.write(`${hashPassword(values.hash)}\n`)
  if (values.reference) return void process.stdout.write(referenceNatsConf())
  const { secrets, generated } = secretsFromEnv(process.env, values.generate ?? false)
  const tlsCert = values["tls-cert"]
  const tlsKey = values["tls-key"]
  const text = renderWithSecrets(secrets, {
    ...(values.listen === undefined ? {} : { listen: values.listen }),
    ...(values.http === undefined ? {} : { http: values.http }),
    ...(values["server-name"] === undefined ? {} : { serverName: values["server-name"] }),
    ...(tlsCert !== undefined && tlsKey !== undefined ? { tls: { certFile: tlsCert, keyFile: tlsKey } } : {}),
  })
  if (values.out === undefined) process.stdout.write(text)
  else writeSecretFile(values.out, text)
  // Generated passwords are shown once, on stderr, so they can be handed to the clients.
  for (const r of generated) process.stderr.write(`${passwordEnvOf(r)}=${secrets[r]}\n`)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main()
