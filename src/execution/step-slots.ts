// At most `max` run steps at once across the process (each step holds a database transaction,
// so this stays below the connection pool). Steps also send their orders, so when the slots are
// saturated the waiting runs are admitted by priority, higher first, first come first served
// within one: otherwise the exchange lanes' tier priority would only ever see the few runs that
// happened to be stepping.
export class StepSlots {
  #busy = 0;
  #arrivals = 0;
  readonly #waiting: { readonly priority: number; readonly arrival: number; readonly resume: () => void }[] = [];

  constructor(private readonly max: number) {}

  /** Runs waiting for a slot now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** `priority` is asked for only when the step has to wait (it may cost a lookup). */
  async run(work: () => Promise<void>, priority: () => Promise<number>): Promise<void> {
    if (this.#busy < this.max) this.#busy++;
    else {
      const rank = await priority().catch(() => 0);
      // A slot may have freed while the priority was looked up.
      if (this.#busy < this.max) this.#busy++;
      else await new Promise<void>((resume) => this.#waiting.push({ priority: rank, arrival: this.#arrivals++, resume }));
    }
    try {
      await work();
    } finally {
      this.#release();
    }
  }

  /** Hands the slot straight to the best waiter, so no newcomer can slip in between. */
  #release(): void {
    if (this.#waiting.length === 0) {
      this.#busy--;
      return;
    }
    // A linear scan: waiters are runs of one process, and a step is far dearer than the scan.
    let best = 0;
    for (let i = 1; i < this.#waiting.length; i++) {
      const w = this.#waiting[i]!;
      const b = this.#waiting[best]!;
      if (w.priority > b.priority || (w.priority === b.priority && w.arrival < b.arrival)) best = i;
    }
    this.#waiting.splice(best, 1)[0]!.resume();
  }
}
