// Space-Saving top-k (Metwally et al.): k counters; an unseen key replaces the minimum and
// inherits its count as error. Any key with true frequency > N/k is guaranteed present.

export interface SpaceSavingEntry {
  readonly key: string
  count: number
  error: number
}

export interface SpaceSaving {
  readonly capacity: number
  readonly entries: Map<string, SpaceSavingEntry>
}

export const createSpaceSaving = (capacity: number): SpaceSaving => ({ capacity, entries: new Map() })

const minEntry = (s: SpaceSaving): SpaceSavingEntry | undefined => {
  let min: SpaceSavingEntry | undefined
  for (const e of s.entries.values()) if (min === undefined || e.count < min.count) min = e
  return min
}

export const offer = (s: SpaceSaving, key: string, count = 1): void => {
  const hit = s.entries.get(key)
  if (hit !== undefined) {
    hit.count += count
    return
  }
  if (s.entries.size < s.capacity) {
    s.entries.set(key, { key, count, error: 0 })
    return
  }
  // O(k) victim search: k is small (hundreds) and misses are what we bound, not hits.
  const victim = minEntry(s)
  if (victim === undefined) return
  s.entries.delete(victim.key)
  s.entries.set(key, { key, count: victim.count + count, error: victim.count })
}

export const top = (s: SpaceSaving, k: number): SpaceSavingEntry[] =>
  [...s.entries.values()].sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1)).slice(0, k)

export const spaceSavingToJson = (s: SpaceSaving): { capacity: number; entries: SpaceSavingEntry[] } => ({
  capacity: s.capacity,
  entries: [...s.entries.values()].map((e) => ({ ...e })),
})

export const spaceSavingFromJson = (j: { capacity: number; entries: SpaceSavingEntry[] }): SpaceSaving => ({
  capacity: j.capacity,
  entries: new Map(j.entries.map((e) => [e.key, { ...e }])),
})
