import { createActor, type ActorScope, type AnyStateMachine, type EventFromLogic, type InputFrom, type SnapshotFrom } from "xstate"

// The saga run as a reducer, the way its tests drive it: the driver feeds the machine each
// effect's result and gets back the next snapshot and the effects it names. No actor per
// settlement: an actor (its mailbox, system, observers, the `toPromise` around it) was about a
// third of the interpreter's CPU per settlement, and the settlement needs none of it (no
// children, no delays, no subscribers). One inert scope serves every run: a transition is
// synchronous, and the actions it names are taken out of the scope before the next one starts.

/** An action the machine named, with its resolved params (an effect for the driver to run). */
export interface NamedAction {
  readonly type: string
  readonly params: unknown
}

export interface Step<M extends AnyStateMachine> {
  readonly snapshot: SnapshotFrom<M>
  /** The actions the step named, in order (assignments are already applied). */
  readonly actions: ReadonlyArray<NamedAction>
}

export class SagaRunner<M extends AnyStateMachine> {
  private named: NamedAction[] = []
  private readonly scope: ActorScope<SnapshotFrom<M>, EventFromLogic<M>>

  constructor(private readonly machine: M) {
    // Never started: it only gives the machine a `self` and a system to report to.
    const self = createActor(machine)
    this.scope = {
      self,
      id: "",
      sessionId: "",
      system: self.system,
      logger: () => undefined,
      defer: () => undefined,
      stopChild: () => undefined,
      emit: () => undefined,
      actionExecutor: (a: NamedAction) => {
        this.named.push({ type: a.type, params: a.params })
      },
    } as unknown as ActorScope<SnapshotFrom<M>, EventFromLogic<M>>
  }

  start(input: InputFrom<M>): Step<M> {
    return this.taken(() => this.machine.getInitialSnapshot(this.scope, input) as SnapshotFrom<M>)
  }

  next(snapshot: SnapshotFrom<M>, event: EventFromLogic<M>): Step<M> {
    return this.taken(() => this.machine.transition(snapshot, event, this.scope) as SnapshotFrom<M>)
  }

  private taken(f: () => SnapshotFrom<M>): Step<M> {
    this.named = []
    try {
      return { snapshot: f(), actions: this.named }
    } finally {
      this.named = []
    }
  }
}
