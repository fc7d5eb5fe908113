// Execution priority of a tier (the seed blueprint's "Execution Priority" column): when more
// orders are ready than an exchange's budget lets through at once, higher priorities go first.
// Stored as text in `tiers.execution_priority`.

export const EXECUTION_PRIORITIES = ['normal', 'high', 'very_high', 'dedicated'] as const;
export type ExecutionPriority = (typeof EXECUTION_PRIORITIES)[number];

/** Higher goes first: normal 0, high 1, very_high 2, dedicated 3. */
export const priorityRank = (priority: ExecutionPriority): number => EXECUTION_PRIORITIES.indexOf(priority);

/**
 * The stored text as a priority. Anything else (a typo written by hand, a value a newer release
 * added) counts as `normal`: an order must never fail over its queue position.
 */
export function parseExecutionPriority(text: string | null | undefined): ExecutionPriority {
  return (EXECUTION_PRIORITIES as readonly string[]).includes(text ?? '') ? (text as ExecutionPriority) : 'normal';
}

const WORDS: Readonly<Record<ExecutionPriority, string>> = { normal: 'Normal', high: 'High', very_high: 'Very high', dedicated: 'Dedicated' };

/** How users read it (/tiers). */
export const executionPriorityWords = (priority: ExecutionPriority): string => WORDS[priority];
