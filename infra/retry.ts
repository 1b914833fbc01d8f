// JetStream management calls right after a cluster (re)starts can time out or find no leader
// for a while: such calls are retried with backoff until a deadline, not failed at once.

const RETRYABLE = /timeout|no responders|503|not enabled|leader|insufficient resources|cluster/i

export const isRetryableJsError = (e: unknown): boolean =>
  RETRYABLE.test(e instanceof Error ? `${e.name} ${e.message}` : String(e))

export const untilDeadline = async <T>(f: () => Promise<T>, deadlineMs = 60_000): Promise<T> => {
  const until = Date.now() + deadlineMs
  for (let attempt = 0; ; attempt++) {
    try {
      return await f()
    } catch (e) {
      if (!isRetryableJsError(e) || Date.now() > until) throw e
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 2_000)))
    }
  }
}
