// A loopback HTTP endpoint standing in for a log-ingest webhook (LOG_INGEST_WEBHOOK): it records
// every POST and answers as the test says (accept, fail with a status, or never answer).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceiverMode = { kind: 'accept' } | { kind: 'status'; status: number } | { kind: 'hang' };

export interface ReceivedBatch {
  readonly body: string;
  readonly contentType: string | undefined;
  readonly entries: Record<string, unknown>[];
}

export class LogReceiver {
  readonly batches: ReceivedBatch[] = [];
  /** Requests seen, whatever the answer (hung ones included). */
  requests = 0;
  mode: ReceiverMode = { kind: 'accept' };
  readonly #hung: ServerResponse[] = [];

  private constructor(private readonly server: ReturnType<typeof createServer>) {}

  /** Listens on 127.0.0.1 (a free port unless one is given). */
  static async start(port = 0): Promise<LogReceiver> {
    let receiver!: LogReceiver;
    const server = createServer((req, res) => void receiver.#handle(req, res));
    receiver = new LogReceiver(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/ingest`;
  }

  /** Every entry accepted so far, in arrival order. */
  entries(): Record<string, unknown>[] {
    return this.batches.flatMap((b) => b.entries);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const mode = this.mode;
    if (mode.kind === 'hang') {
      this.#hung.push(res);
      return;
    }
    if (mode.kind === 'status') {
      res.writeHead(mode.status).end();
      return;
    }
    const body = Buffer.concat(chunks).toString('utf8');
    this.batches.push({ body, contentType: req.headers['content-type'], entries: JSON.parse(body) as Record<string, unknown>[] });
    res.writeHead(204).end();
  }

  async close(): Promise<void> {
    for (const res of this.#hung) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A loopback port with nothing listening (connections are refused). */
export async function closedPort(): Promise<number> {
  const probe = await LogReceiver.start();
  const port = probe.port;
  await probe.close();
  return port;
}
