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
  const needle = idOrName.trim();
  const row = await db.tier.findFirst({
    where: { OR: [{ id: needle.toLowerCase() }, { name: { equals: needle, mode: 'insensitive' } }] },
  });
  return row ? toTier(row) : null;
}
