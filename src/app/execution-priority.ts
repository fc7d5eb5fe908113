// Tiers' execution priorities, for displays (the order lanes read a user's through the cached
// account facts instead).
import { read } from '../db/transaction.ts';
import { parseExecutionPriority, type ExecutionPriority } from '../domain/execution-priority.ts';
import type { AppDeps } from './deps.ts';

/** Execution priority by tier id. */
export async function tierExecutionPriorities(deps: AppDeps): Promise<ReadonlyMap<string, ExecutionPriority>> {
  const rows = await read(() => deps.db.tier.findMany({ select: { id: true, executionPriority: true } }));
  return new Map(rows.map((t) => [t.id, parseExecutionPriority(t.executionPriority)]));
}
