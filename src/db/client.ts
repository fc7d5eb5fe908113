// The only place that constructs Prisma. Everything else receives a Db.
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient, Prisma } from './generated/client.ts';

export type Db = PrismaClient;
export type Tx = Prisma.TransactionClient;
export { Prisma };

export interface DbOptions {
  /** Connections in this process's pool. */
  readonly poolSize?: number;
}

export function createDb(url: string, options: DbOptions = {}): Db {
  const adapter = new PrismaPg({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  return new PrismaClient({ adapter });
}
