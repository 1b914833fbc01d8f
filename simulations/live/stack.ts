/**
 * The system the live runner drives: a nats-server and the blob service it starts itself
 * (both stopped at the end), or whatever already runs behind `NATS_URL`. Only what the
 * runner started can be faulted.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startNatsServer, type NatsServerProcess } from "../../infra/embedded-server.ts"
import { startServiceProcess, type ServiceProcess } from "./service-process.ts"

export interface LiveStack {
  readonly url: string
  readonly server: NatsServerProcess | undefined
  readonly services: ReadonlyMap<string, ServiceProcess>
  readonly stop: () => Promise<void>
}

export interface StackOptions {
  readonly natsUrl?: string
  /** Answer with the echo service instead of Umbra (measures the driver alone). */
  readonly echo?: boolean
}

export const startLiveStack = async (o: StackOptions): Promise<LiveStack> => {
  const server = o.natsUrl === undefined ? await startNatsServer({ storeDir: mkdtempSync(join(tmpdir(), "umbra-sim-nats-")) }) : undefined
  const url = o.natsUrl ?? server?.url ?? ""
  const services = new Map<string, ServiceProcess>()
  try {
    if (o.echo === true) {
      services.set("echo", await startServiceProcess("echo", "simulations/live/echo-service.ts", { NATS_URL: url }, "echo service ready"))
    } else if (server !== undefined) {
      const env = { NATS_URL: url, UMBRA_INSTANCE_ID: "sim-blob-1" }
      services.set("blob-service", await startServiceProcess("blob-service", "services/blob-service/main.ts", env, "ready on"))
    }
  } catch (e) {
    await server?.stop(true)
    throw e
  }
  const stop = async (): Promise<void> => {
    for (const s of services.values()) await s.stop().catch(() => {})
    await server?.stop(true)
  }
  return { url, server, services, stop }
}
