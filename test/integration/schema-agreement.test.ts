// Guards the hand-written SQL migrations against drift from prisma/schema.prisma: applies every
// migration to an empty database and compares the live catalog with the Prisma datamodel.
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrator.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { createEmptyDatabase, MIGRATIONS_DIR, type TestDatabase } from '../support/database.ts';
import { actualShapeFromDatabase, expectedShapeFromPrisma } from '../support/schema-shape.ts';

let database: TestDatabase;
let client: pg.Client;
let schemaText: string;

beforeAll(async () => {
  database = await createEmptyDatabase();
  await migrate(database.url, MIGRATIONS_DIR);
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
  schemaText = await readFile(projectPath('prisma/schema.prisma'), 'utf8');
});

afterAll(async () => {
  await client?.end();
  await database?.drop();
});

describe('migrations and the Prisma datamodel', () => {
  it('agree on tables, columns, types, nullability, defaults, keys, indexes and foreign keys', async () => {
    const expected = expectedShapeFromPrisma(schemaText);
    const actual = await actualShapeFromDatabase(client);
    expect(Object.keys(expected.tables).length).toBeGreaterThanOrEqual(7);
    expect(actual).toEqual(expected);
  });

  it('every foreign key column is the leading column of some index', async () => {
    const actual = await actualShapeFromDatabase(client);
    for (const [table, shape] of Object.entries(actual.tables)) {
      for (const fk of Object.values(shape.foreignKeys)) {
        const leading = [shape.primaryKey, ...Object.values(shape.indexes)].some(
          (ix) => ix && fk.columns.every((col, i) => ix.columns[i] === col),
        );
        expect(leading, `${table}(${fk.columns.join(', ')}) has no index`).toBe(true);
      }
    }
  });

  it('notices a field the migrations do not create', () => {
    const drifted = schemaText.replace('timezone    String   @default("UTC")', 'timezone    String   @default("UTC")\n  locale      String?');
    expect(drifted).not.toBe(schemaText);
    return actualShapeFromDatabase(client).then((actual) => {
      expect(actual).not.toEqual(expectedShapeFromPrisma(drifted));
    });
  });

  it('notices an index the database lacks', async () => {
    const other = await createEmptyDatabase();
    const otherClient = new pg.Client({ connectionString: other.url });
    try {
      await migrate(other.url, MIGRATIONS_DIR);
      await otherClient.connect();
      await otherClient.query('DROP INDEX "licenses_status_idx"');
      expect(await actualShapeFromDatabase(otherClient)).not.toEqual(expectedShapeFromPrisma(schemaText));
    } finally {
      await otherClient.end();
      await other.drop();
    }
  });
});
