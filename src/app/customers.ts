// The account's public customer id (c_…): what self-hosted bots post under and what the
// dashboard URL carries. The dashboard has no login, so the id is the capability: 128 random
// bits, never derived from anything else, made the first time it is needed.
import { randomBytes } from 'node:crypto';
import type { Db, Tx } from '../db/client.ts';
import { read } from '../db/transaction.ts';
import type { AppDeps } from './deps.ts';

export const CUSTOMER_ID_PATTERN = /^c_[A-Za-z0-9_-]{22}$/;

export const isCustomerId = (text: string): boolean => CUSTOMER_ID_PATTERN.test(text);

const newCustomerId = (): string => `c_${randomBytes(16).toString('base64url')}`;

/** The user's customer id, created on first call. Safe under concurrency (the first writer wins). */
export async function ensureCustomerId(db: Db | Tx, userId: string): Promise<string> {
  await db.user.updateMany({ where: { id: userId, customerId: null }, data: { customerId: newCustomerId() } });
  const user = await db.user.findUniqueOrThrow({ where: { id: userId }, select: { customerId: true } });
  return user.customerId!;
}

export interface Customer {
  readonly userId: string;
  readonly customerId: string;
}

/** The account behind a customer id, or null (also for text that is not a customer id). */
export async function findCustomer(deps: AppDeps, customerId: string): Promise<Customer | null> {
  if (!isCustomerId(customerId)) return null;
  const user = await read(() => deps.db.user.findUnique({ where: { customerId }, select: { id: true } }));
  return user ? { userId: user.id, customerId } : null;
}

export const dashboardUrl = (publicBaseUrl: string, customerId: string): string => `${publicBaseUrl}/dashboard/${customerId}/`;

/** The user's customer id, made on first call (for commands and routes outside a transaction). */
export const customerIdOf = (deps: AppDeps, userId: string): Promise<string> => read(() => ensureCustomerId(deps.db, userId));
