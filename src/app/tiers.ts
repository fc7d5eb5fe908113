import type { Tx } from '../db/client.ts';
import { read } from '../db/transaction.ts';
import type { Tier } from '../domain/tiers.ts';
import { priceForCapital } from '../domain/tiers.ts';
import { centsFromDecimalString } from '../kernel/money.ts';
import type { AppDeps } from './deps.ts';

type DecimalLike = { toFixed(digits: number): string };
export const decimalToCents = (d: DecimalLike) => centsFromDecimalString(d.toFixed(2));

interface TierRow {
  id: string;
  name: string;
  rank: number;
  maxCapitalUsd: DecimalLike;
  active: boolean;
}

export function toTier(row: TierRow): Tier {
  const maxCapital = decimalToCents(row.maxCapitalUsd);
  return { id: row.id, name: row.name, rank: row.rank, maxCapital, price: priceForCapital(maxCapital), active: row.active };
}

export async function listTiers(deps: AppDeps, options: { includeInactive?: boolean } = {}): Promise<Tier[]> {
  const rows = await read(() =>
    deps.db.tier.findMany({ where: options.includeInactive ? {} : { active: true }, orderBy: { rank: 'asc' } }),
  );
  return rows.map(toTier);
}

/** Accepts a tier id or its name in any case ("pro", "Pro"). */
export async function findTier(db: AppDeps['db'] | Tx, idOrName: string): Promise<Tier | null> {
  const needle = idOrName.trim().toLowerCase();
  // Matched here, not with Prisma's insensitive `equals`: that becomes ILIKE, where a typed
  // backslash or % is a pattern character (a lone "\\" made PostgreSQL throw). Tiers are few.
  const rows = await db.tier.findMany();
  const row = rows.find((t) => t.id === needle || t.name.toLowerCase() === needle);
  return row ? toTier(row) : null;
}
