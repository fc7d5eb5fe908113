// Prisma CLI configuration (tooling only; the service reads its settings from src/config).
// Only `prisma generate` works offline here; migrations are applied by src/db/migrator.ts.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
