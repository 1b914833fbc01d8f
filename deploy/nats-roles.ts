import { defaultNames, type Names } from "../infra/names.ts"
import { inboxPrefixFor } from "../infra/connection.ts"

// The roles of an Umbra deployment and the nats.conf that grants them, rendered from one
// place so the checked-in nats.conf, `npm start`'s generated config and the test servers never
// drift apart (test/security/nats-conf.test.ts compares them).
//
// Layout: users live inside account UMBRA only. nats-server 2.9.10 is affected by
// CVE-2023-47090 when a top-level `authorization {}` block sits beside `accounts {}`, so there is
// never a top-level authorization block.

export type Role = "service" | "writer" | "reader" | "auditor"
export const ROLES: ReadonlyArray<Role> = ["service", "writer", "reader", "auditor"]

export const userOf = (role: Role): string => `umbra-${role}`

/** The environment variable that holds a role's password (plain text, never in the repo). */
export const passwordEnvOf = (role: Role): string => `UMBRA_${role.toUpperCase()}_PASSWORD`
/** The variable the checked-in nats.conf reads a role's bcrypt hash from. */
export const hashEnvOf = (role: Role): string => `UMBRA_${role.toUpperCase()}_PASSWORD_BCRYPT`

export interface Permissions {
  readonly publishAllow: ReadonlyArray<string>
  readonly publishDeny: ReadonlyArray<string>
  readonly subscribeAllow: ReadonlyArray<string>
  readonly subscribeDeny: ReadonlyArray<string>
  readonly allowResponses: boolean
}

/** The JetStream stream behind an object store bucket (nats.js convention). */
const objStream = (bucket: string) => `OBJ_${bucket}`
const kvStream = (bucket: string) => `KV_${bucket}`

/**
 * Reading large content (above one message) from the content bucket: the bucket's meta get,
 * an ordered consumer on its stream, and nothing of any other stream. Objects are named by
 * digest and the client checks the digest of what it fetched.
 */
const contentRead = (n: Names): string[] => {
  const s = objStream(n.contentBucket)
  return [
    "$JS.API.INFO",
    `$JS.API.STREAM.INFO.${s}`,
    `$JS.API.STREAM.MSG.GET.${s}`,
    `$JS.API.DIRECT.GET.${s}`,
    `$JS.API.DIRECT.GET.${s}.>`,
    `$JS.API.CONSUMER.CREATE.${s}`,
    `$JS.API.CONSUMER.CREATE.${s}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${s}.>`,
    `$JS.API.CONSUMER.INFO.${s}.>`,
    `$JS.API.CONSUMER.DELETE.${s}.>`,
  ]
}

/** Uploading large content: chunks and meta of the content bucket only (no purge, no delete). */
const contentUpload = (n: Names): string[] => [`$O.${n.contentBucket}.C.>`, `$O.${n.contentBucket}.M.>`]

/**
 * What no client may touch even if an allow rule above were widened by mistake: the generic
 * read APIs that reach every blob (message get, direct get, consumers) on the event stream, the
 * shadow bucket, the shadow lifecycle and access streams, and anything that deletes history.
 */
const clientDenied = (n: Names): string[] => {
  const guarded = [n.eventStream, kvStream(n.shadowBucket), n.shadowEventStream, n.accessStream]
  return [
    ...guarded.flatMap((s) => [
      `$JS.API.STREAM.MSG.GET.${s}`,
      `$JS.API.DIRECT.GET.${s}`,
      `$JS.API.DIRECT.GET.${s}.>`,
      `$JS.API.CONSUMER.CREATE.${s}`,
      `$JS.API.CONSUMER.CREATE.${s}.>`,
      `$JS.API.CONSUMER.DURABLE.CREATE.${s}.>`,
    ]),
    "$JS.API.STREAM.PURGE.>",
    "$JS.API.STREAM.DELETE.>",
    "$JS.API.STREAM.MSG.DELETE.>",
    "$JS.API.STREAM.UPDATE.>",
    `${n.eventSubjectPrefix}.>`,
    `${n.shadowEventSubjectPrefix}.>`,
    `${n.accessSubject}.>`,
    `$KV.${n.shadowBucket}.>`,
  ]
}

const cmd = (n: Names, ...ops: string[]) => ops.map((op) => `${n.commandSubjectPrefix}.${op}.>`)

export const permissionsOf = (role: Role, n: Names = defaultNames): Permissions => {
  const inbox = `${inboxPrefixFor(userOf(role))}.>`
  switch (role) {
    case "service":
      return {
        publishAllow: [
          "$JS.API.>",
          "$JS.ACK.>",
          "$JS.FC.>",
          "$KV.>",
          "$O.>",
          "$SRV.>",
          `${n.commandSubjectPrefix}.>`,
          `${n.eventSubjectPrefix}.>`,
          `${n.headSubjectPrefix}.>`,
          `${n.shadowEventSubjectPrefix}.>`,
          `${n.accessSubject}.>`,
          "umbra.>",
          inbox,
        ],
        // History is evidence: even the services cannot drop or rewrite the event stream.
        publishDeny: [
          `$JS.API.STREAM.DELETE.${n.eventStream}`,
          `$JS.API.STREAM.PURGE.${n.eventStream}`,
          `$JS.API.STREAM.MSG.DELETE.${n.eventStream}`,
        ],
        subscribeAllow: [
          `${n.commandSubjectPrefix}.>`,
          "$SRV.>",
          `${n.headSubjectPrefix}.>`,
          `${n.eventSubjectPrefix}.>`,
          `${n.shadowEventSubjectPrefix}.>`,
          `${n.accessSubject}.>`,
          "$KV.>",
          "umbra.>",
          inbox,
        ],
        subscribeDeny: [],
        allowResponses: true,
      }
    case "writer":
      return {
        publishAllow: [...cmd(n, "write", "patch", "delete", "read", "history"), ...contentRead(n), ...contentUpload(n)],
        publishDeny: clientDenied(n),
        subscribeAllow: [inbox],
        subscribeDeny: [],
        allowResponses: false,
      }
    case "reader":
      return {
        publishAllow: [...cmd(n, "read", "history"), ...contentRead(n)],
        publishDeny: clientDenied(n),
        subscribeAllow: [inbox],
        subscribeDeny: [],
        allowResponses: false,
      }
    case "auditor":
      // Audits go through the service (history, version and as-of reads, the audit endpoint),
      // never through the generic stream APIs that would reach every blob at once.
      return {
        publishAllow: [...cmd(n, "read", "history", "audit"), ...contentRead(n)],
        publishDeny: clientDenied(n),
        subscribeAllow: [inbox],
        subscribeDeny: [],
        allowResponses: false,
      }
  }
}

export interface RenderOptions {
  /** Per role: a bcrypt hash, or `{ env }` to reference a variable holding a quoted hash. */
  readonly passwords: Readonly<Record<Role, { readonly hash: string } | { readonly env: string }>>
  readonly serverName?: string
  /** `host:port`; omitted, the command line decides (`-a`, `-p`). */
  readonly listen?: string
  readonly http?: string
  readonly tls?: { readonly certFile: string; readonly keyFile: string }
  readonly names?: Names
  readonly header?: string
}

const list = (xs: ReadonlyArray<string>) => `[${xs.map((x) => JSON.stringify(x)).join(", ")}]`

const renderUser = (role: Role, password: RenderOptions["passwords"][Role], n: Names): string => {
  const p = permissionsOf(role, n)
  // A bcrypt hash contains `$`, which the config parser would read as a variable: quote it.
  const pw = "hash" in password ? JSON.stringify(password.hash) : `$${password.env}`
  const pub = p.publishDeny.length > 0 ? `{ allow: ${list(p.publishAllow)}, deny: ${list(p.publishDeny)} }` : `{ allow: ${list(p.publishAllow)} }`
  const sub = p.subscribeDeny.length > 0 ? `{ allow: ${list(p.subscribeAllow)}, deny: ${list(p.subscribeDeny)} }` : `{ allow: ${list(p.subscribeAllow)} }`
  return [
    `      {`,
    `        user: ${JSON.stringify(userOf(role))}`,
    `        password: ${pw}`,
    `        permissions: {`,
    `          publish: ${pub}`,
    `          subscribe: ${sub}`,
    ...(p.allowResponses ? [`          allow_responses: true`] : []),
    `        }`,
    `      }`,
  ].join("\n")
}

export const renderNatsConf = (o: RenderOptions): string => {
  const n = o.names ?? defaultNames
  return [
    ...(o.header === undefined ? [] : [o.header.trimEnd()]),
    ...(o.serverName === undefined ? [] : [`server_name: ${o.serverName}`]),
    ...(o.listen === undefined ? [] : [`listen: ${o.listen}`]),
    ...(o.http === undefined ? [] : [`http: ${o.http}`]),
    `max_payload: 1MB`,
    `# Slow consumers are cut rather than allowed to grow server memory without bound.`,
    `write_deadline: "10s"`,
    ...(o.tls === undefined
      ? []
      : [`tls {`, `  cert_file: ${JSON.stringify(o.tls.certFile)}`, `  key_file: ${JSON.stringify(o.tls.keyFile)}`, `  timeout: 2`, `}`]),
    `jetstream {`,
    `  max_memory_store: 1GB`,
    `  max_file_store: 20GB`,
    `}`,
    `# Users only inside accounts: no top-level authorization block (CVE-2023-47090 on 2.9.10).`,
    `accounts {`,
    `  UMBRA {`,
    `    jetstream: enabled`,
    `    users: [`,
    ROLES.map((r) => renderUser(r, o.passwords[r], n)).join("\n"),
    `    ]`,
    `  }`,
    `}`,
    ``,
  ].join("\n")
}

export const CHECKED_IN_HEADER = `# nats-server configuration with Umbra's roles (rendered by deploy/nats-roles.ts; do not edit by
# hand: \`npx tsx deploy/make-nats-conf.ts --reference > nats.conf\`). Works with nats-server 2.9.10.
#
# Passwords are bcrypt hashes read from the environment, quoted, e.g.
#   export UMBRA_SERVICE_PASSWORD_BCRYPT="\\"$(npx tsx deploy/make-nats-conf.ts --hash "$UMBRA_SERVICE_PASSWORD")\\""
# or render a self-contained config from plain-text secrets in the environment:
#   npx tsx deploy/make-nats-conf.ts -o /etc/nats/umbra.conf
# \`npm start\` does the latter for the server it starts itself (see docs/reliability.md).`

/** The checked-in nats.conf: every hash comes from the environment. */
export const referenceNatsConf = (): string =>
  renderNatsConf({
    header: CHECKED_IN_HEADER,
    serverName: "umbra-local",
    listen: "127.0.0.1:4222",
    http: "127.0.0.1:8222",
    passwords: Object.fromEntries(ROLES.map((r) => [r, { env: hashEnvOf(r) }])) as RenderOptions["passwords"],
  })
