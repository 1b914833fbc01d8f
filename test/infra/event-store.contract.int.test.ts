import { EventStore } from "../../infra/event-store.ts"
import { connectTo, prepareTopology, startTestServer, testConfig } from "../support/nats-server.ts"
import { eventStoreContract } from "./event-store-contract.ts"

// The NATS event store against the contract the simulator's memory store passes too
// (test/simulations/event-store-memory.test.ts): a real nats-server, never a mock.
eventStoreContract("NATS JetStream", async () => {
  const server = await startTestServer()
  const config = testConfig(server.url)
  const nc = await connectTo(server.url, "umbra-contract")
  await prepareTopology(nc, config)
  const store = await EventStore.open(nc, config.names)
  return {
    store,
    close: async () => {
      await nc.close().catch(() => {})
      await server.stop(true)
    },
  }
})
