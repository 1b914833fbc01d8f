import { defineConfig } from "vitest/config"

// Test tiers by suffix (see STYLE.md): pure unit tests, integration tests against a real
// nats-server (each file starts its own), deterministic simulations, fault injection.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          sequence: { groupOrder: 0 },
          include: ["test/**/*.test.ts"],
          exclude: ["test/**/*.int.test.ts", "test/**/*.sim.test.ts", "test/**/*.faults.test.ts"],
        },
      },
      {
        test: {
          name: "int",
          sequence: { groupOrder: 1 },
          include: ["test/**/*.int.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Two cores: each file starts its own nats-server; more parallel files only thrash.
          maxWorkers: 2,
        },
      },
      {
        test: { name: "sim", sequence: { groupOrder: 2 }, include: ["test/**/*.sim.test.ts"], testTimeout: 300_000 },
      },
      {
        test: {
          name: "faults",
          sequence: { groupOrder: 3 },
          include: ["test/**/*.faults.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          maxWorkers: 1,
        },
      },
    ],
  },
})
