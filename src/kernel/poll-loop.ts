// A worker loop over a database queue: run a pass; when a pass found nothing to do, wait
// `idleMs` or until poked (something was just queued), then look again. A failed pass is
// reported and the loop carries on.

export interface PollLoopOptions {
  /** One pass over the queue; returns how many items it worked on. */
  readonly pass: () => Promise<number>;
  readonly idleMs: number;
  readonly onError: (error: unknown) => void;
}

export class PollLoop {
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;

  constructor(private readonly options: PollLoopOptions) {}

  /** Started, then asked to stop: a long pass checks this to end early on shutdown. */
  get stopping(): boolean {
    return this.#loop !== null && !this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Look now instead of after the idle wait. */
  poke(): void {
    this.#wake?.();
  }

  /** Lets the current pass finish, then resolves. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      let worked = 0;
      try {
        worked = await this.options.pass();
      } catch (error) {
        this.options.onError(error);
      }
      if (!this.#running) break;
      if (worked === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.idleMs);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = null;
      }
    }
  }
}
