import { writeFileSync } from "node:fs"
import { Session } from "node:inspector"

// What the bench's preloaded profilers share: SIGUSR2 starts one in this process, the next
// SIGUSR2 stops it and writes what it returned to `out`, so a profile covers only the
// measured window, not start-up.

export const toggleOnSigusr2 = (out: string, start: (s: Session) => void, stop: (s: Session, write: (profile: unknown) => void) => void): void => {
  const session = new Session()
  session.connect()
  let running = false
  process.on("SIGUSR2", () => {
    running = !running
    if (running) start(session)
    else stop(session, (profile) => writeFileSync(out, JSON.stringify(profile)))
  })
}
