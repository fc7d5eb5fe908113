// Prints the README's configuration table from src/config/variables.ts (the single source).
// Usage: npx tsx scripts/config-table.ts
import { variables, type VariableSpec } from '../src/config/variables.ts';

const rows = Object.entries(variables as Record<string, VariableSpec>).map(
  ([name, spec]) => `| \`${name}\` | ${spec.defaultText} | ${spec.description}${spec.secret ? ' *(secret)*' : ''} |`,
);
process.stdout.write(['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n') + '\n');
