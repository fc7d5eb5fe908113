// Start-up registers what must be undone; shutdown undoes it in reverse order, once, within a
// deadline. The embedded database is registered first, so it stops last.
import type { Logger } from './logger.ts';

type StopStep = { readonly name: string; readonly stop: () => Promise<void> | void };

export class Lifecycle {
  readonly #steps: StopStep[] = [];
  #stopping: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  onStop(name: string, stop: StopStep['stop']): void {
    this.#steps.push({ name, stop });
  }

  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  stop(reason: string): Promise<void> {
    this.#stopping ??= this.#run(reason);
    return this.#stopping;
  }

  async #run(reason: string): Promise<void> {
    this.logger.info({ reason }, 'shutting down');
    for (const step of [...this.#steps].reverse()) {
      try {
        await step.stop();
        this.logger.debug({ step: step.name }, 'stopped');
      } catch (error) {
        this.logger.error({ err: error, step: step.name }, 'error while stopping');
      }
    }
    this.logger.info('shutdown complete');
  }
}
