import { Cause, Effect, Exit, Fiber, Layer } from "effect"

// Runs a service's layers until SIGINT/SIGTERM, then interrupts them so every scoped
// resource is released in reverse order (service stopped, connection drained, server stopped).
export const runService = <E>(app: Layer.Layer<never, E, never>): void => {
  const fiber = Effect.runFork(Layer.launch(app))
  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`umbra: ${signal}, draining…`)
    Effect.runPromise(Fiber.interrupt(fiber)).then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  // A promise nobody awaited that failed is a bug, but one request's: it must not take every
  // other request (and, with partitions, the instance's leases) down with the process. It is
  // said on stderr, with its stack, for the fault suite and the operator to see.
  process.on("unhandledRejection", (reason) => {
    console.error(`umbra: unhandled rejection (a bug; the service goes on): ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`)
  })
  process.on("SIGINT", () => shutdown("SIGINT"))
  process.on("SIGTERM", () => shutdown("SIGTERM"))
  fiber.addObserver((exit) => {
    if (!stopping) {
      console.error(`umbra: stopped: ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "the services ended"}`)
      process.exit(1)
    }
  })
}
