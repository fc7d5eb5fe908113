// A chat in the terminal, on the same command layer, as the local operator (an admin). Lets a
// newcomer try every command on a fresh machine with nothing configured.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { CommandPipeline, RenderedButton, RenderedReply } from '../pipeline.ts';
import { toPlainText } from '../render.ts';
import { REPLAY_HINT } from './startup-banner.ts';

export interface ConsoleChatOptions {
  readonly pipeline: CommandPipeline;
  readonly input: Readable;
  readonly output: Writable;
  /** Where images and files from replies are saved (a terminal cannot show them). */
  readonly imageDir: string;
  readonly username: string;
  readonly color?: boolean;
}

export class ConsoleChat {
  #rl: Interface | undefined;
  #buttons: RenderedButton[] = [];
  #queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: ConsoleChatOptions) {}

  start(): void {
    const { input, output } = this.options;
    this.#rl = createInterface({ input, output, terminal: false });
    this.#print('Console chat — you are the local admin. Try /start or /help. Ctrl-C stops the service.');
    this.#rl.on('line', (line) => {
      // One line at a time, in order, like a chat.
      this.#queue = this.#queue.then(() => this.#handle(line.trim()));
    });
  }

  stop(): void {
    this.#rl?.close();
  }

  /** For tests: resolves when every line typed so far has been answered. */
  idle(): Promise<void> {
    return this.#queue;
  }

  async #handle(line: string): Promise<void> {
    if (!line) return;
    const from = { externalId: 'local', username: this.options.username };
    const chat = { id: 'console', kind: 'private' as const };
    const pressed = /^\d+$/.test(line) ? this.#buttons[Number(line) - 1] : undefined;
    const reply = pressed
      ? await this.options.pipeline.handleAction({ platform: 'console', from, chat, actionId: pressed.actionId })
      : await this.options.pipeline.handleText({ platform: 'console', from, chat, text: line });
    if (!reply) {
      this.#print(/^\d+$/.test(line) ? 'There is no button with that number.' : 'Commands start with a slash: try /help.');
      return;
    }
    await this.#render(reply);
  }

  async #render(reply: RenderedReply): Promise<void> {
    this.#print(toPlainText(reply.text, this.options.color));
    // The console is the operator's terminal: the one person who can switch to replayed candles.
    if (reply.outcome === 'exchange_unreachable') this.#print(REPLAY_HINT);
    if (reply.image) {
      await mkdir(this.options.imageDir, { recursive: true });
      const file = join(this.options.imageDir, `reply-${Date.now()}.png`);
      await writeFile(file, reply.image.png);
      this.#print(`[image saved to ${file}]${reply.image.caption ? ` ${reply.image.caption}` : ''}`);
    }
    if (reply.file) {
      await mkdir(this.options.imageDir, { recursive: true });
      const safeName = basename(reply.file.name).replace(/[^\w.-]/g, '_');
      const file = join(this.options.imageDir, `reply-${Date.now()}-${safeName}`);
      await writeFile(file, reply.file.bytes);
      this.#print(`[file saved to ${file}]${reply.file.caption ? ` ${reply.file.caption}` : ''}`);
    }
    this.#buttons = reply.buttons?.flat() ?? [];
    if (this.#buttons.length) this.#print(this.#buttons.map((b, i) => `[${i + 1}] ${b.label}`).join('   ') + '   (type a number)');
  }

  #print(text: string): void {
    this.options.output.write(`${text}\n`);
  }
}
