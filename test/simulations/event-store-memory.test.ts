import { setTimeout as sleep } from "node:timers/promises"
import { MemoryEventStore } from "../../simulations/sim/memory-event-store.ts"
import { eventStoreContract } from "../infra/event-store-contract.ts"

// The simulator's memory store, on the wall clock and without faults, against the contract
// the NATS store passes too (test/infra/event-store.contract.int.test.ts).
eventStoreContract("memory (simulator stand-in)", async () => ({
  store: new MemoryEventStore(
    { now: () => Date.now(), sleep: (ms) => sleep(ms), attemptFault: () => "none", latencyMs: () => 0 },
    { duplicateWindowMs: 120_000 },
  ),
  close: async () => {},
}))
