// Two views of the same database shape, made comparable: what prisma/schema.prisma says
// (via Prisma's own schema parser, compiled to wasm, which runs offline) and what a live
// PostgreSQL catalog holds after our SQL migrations ran. Names follow Prisma's conventions
// (users_pkey, licenses_tier_id_idx, ..._key, ..._fkey), so agreement here also means a
// machine with Prisma's migrate engine would see no drift.
import wasm from '@prisma/prisma-schema-wasm';
import type pg from 'pg';

export interface ColumnShape {
  readonly type: string;
  readonly nullable: boolean;
  readonly hasDefault: boolean;
}
export interface IndexShape {
  readonly columns: readonly string[];
  readonly unique: boolean;
}
export interface ForeignKeyShape {
  readonly columns: readonly string[];
  readonly refTable: string;
  readonly refColumns: readonly string[];
  readonly onDelete: string;
  readonly onUpdate: string;
}
export interface TableShape {
  columns: Record<string, ColumnShape>;
  primaryKey: { name: string; columns: readonly string[] } | null;
  indexes: Record<string, IndexShape>;
  foreignKeys: Record<string, ForeignKeyShape>;
}
export interface SchemaShape {
  enums: Record<string, readonly string[]>;
  tables: Record<string, TableShape>;
}

// ---- expected: from the Prisma datamodel ---------------------------------------------------

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object' | 'unsupported';
  type: string;
  isRequired: boolean;
  isList: boolean;
  isId: boolean;
  isUpdatedAt: boolean;
  nativeType?: [string, string[]] | null;
  default?: unknown;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
  primaryKey: { name: string | null; fields: string[] } | null;
}
interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  name?: string | null;
  dbName?: string | null;
  fields: { name: string }[];
}
interface DmmfEnum {
  name: string;
  dbName: string | null;
  values: { name: string; dbName: string | null }[];
}

const CLIENT_SIDE_DEFAULTS = new Set(['uuid', 'cuid', 'nanoid', 'ulid']);

function quoteIfNeeded(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name}"`;
}

function columnType(field: DmmfField, enumDbNames: Map<string, string>): string {
  const native = field.nativeType;
  const args = native?.[1] ?? [];
  let base: string;
  if (field.kind === 'enum') {
    base = quoteIfNeeded(enumDbNames.get(field.type) ?? field.type);
  } else {
    switch (field.type) {
      case 'String':
        base = native?.[0] === 'Uuid' ? 'uuid' : native?.[0] === 'VarChar' ? `character varying(${args[0]})` : 'text';
        break;
      case 'Int':
        base = 'integer';
        break;
      case 'BigInt':
        base = 'bigint';
        break;
      case 'Boolean':
        base = 'boolean';
        break;
      case 'Bytes':
        base = 'bytea';
        break;
      case 'Float':
        base = 'double precision';
        break;
      case 'Json':
        base = native?.[0] === 'Json' ? 'json' : 'jsonb';
        break;
      case 'Decimal':
        base = `numeric(${args[0] ?? 65},${args[1] ?? 30})`;
        break;
      case 'DateTime': {
        const precision = args[0] ?? '3';
        base = native?.[0] === 'Timestamptz' ? `timestamp(${precision}) with time zone` : `timestamp(${precision}) without time zone`;
        break;
      }
      default:
        throw new Error(`schema-shape: no mapping for Prisma type ${field.type} (${field.name})`);
    }
  }
  return field.isList ? `${base}[]` : base;
}

function hasDatabaseDefault(field: DmmfField): boolean {
  if (field.default === undefined || field.isUpdatedAt) return false;
  const fn = field.default as { name?: string };
  if (fn && typeof fn === 'object' && typeof fn.name === 'string') return !CLIENT_SIDE_DEFAULTS.has(fn.name);
  return true; // literal (number, string, boolean, enum value)
}

export function expectedShapeFromPrisma(schemaText: string): SchemaShape {
  const dmmf = JSON.parse(wasm.get_dmmf(JSON.stringify({ prismaSchema: schemaText }))) as {
    datamodel: { models: DmmfModel[]; enums: DmmfEnum[]; indexes: DmmfIndex[] };
  };
  const { models, enums, indexes } = dmmf.datamodel;
  const enumDbNames = new Map(enums.map((e) => [e.name, e.dbName ?? e.name]));
  const tableOf = new Map(models.map((m) => [m.name, m.dbName ?? m.name]));
  const columnOf = (model: DmmfModel, fieldName: string) => {
    const field = model.fields.find((f) => f.name === fieldName);
    if (!field) throw new Error(`schema-shape: ${model.name}.${fieldName} not found`);
    return field.dbName ?? field.name;
  };

  const shape: SchemaShape = {
    enums: Object.fromEntries(enums.map((e) => [e.dbName ?? e.name, e.values.map((v) => v.dbName ?? v.name)])),
    tables: {},
  };
  for (const model of models) {
    const table = tableOf.get(model.name)!;
    const columns: Record<string, ColumnShape> = {};
    for (const field of model.fields) {
      if (field.kind === 'object') continue;
      columns[field.dbName ?? field.name] = {
        type: columnType(field, enumDbNames),
        nullable: !field.isRequired,
        hasDefault: hasDatabaseDefault(field),
      };
    }
    const foreignKeys: Record<string, ForeignKeyShape> = {};
    for (const field of model.fields) {
      if (field.kind !== 'object' || !field.relationFromFields?.length) continue;
      const target = models.find((m) => m.name === field.type)!;
      const cols = field.relationFromFields.map((f) => columnOf(model, f));
      const anyOptional = field.relationFromFields.some((f) => !model.fields.find((x) => x.name === f)!.isRequired);
      foreignKeys[`${table}_${cols.join('_')}_fkey`] = {
        columns: cols,
        refTable: tableOf.get(target.name)!,
        refColumns: (field.relationToFields ?? []).map((f) => columnOf(target, f)),
        // Prisma's defaults: Restrict for required relations, SetNull for optional ones; onUpdate Cascade.
        onDelete: field.relationOnDelete ?? (anyOptional ? 'SetNull' : 'Restrict'),
        onUpdate: field.relationOnUpdate ?? 'Cascade',
      };
    }
    shape.tables[table] = { columns, primaryKey: null, indexes: {}, foreignKeys };
  }
  for (const index of indexes) {
    const model = models.find((m) => m.name === index.model)!;
    const table = tableOf.get(model.name)!;
    const cols = index.fields.map((f) => columnOf(model, f.name));
    const entry = shape.tables[table]!;
    if (index.type === 'id') {
      entry.primaryKey = { name: index.dbName ?? `${table}_pkey`, columns: cols };
    } else if (index.type === 'unique' || index.type === 'normal') {
      const suffix = index.type === 'unique' ? 'key' : 'idx';
      entry.indexes[index.dbName ?? `${table}_${cols.join('_')}_${suffix}`] = { columns: cols, unique: index.type === 'unique' };
    }
  }
  return shape;
}

// ---- actual: from the PostgreSQL catalog ---------------------------------------------------

const FK_ACTIONS: Record<string, string> = { a: 'NoAction', r: 'Restrict', c: 'Cascade', n: 'SetNull', d: 'SetDefault' };

export async function actualShapeFromDatabase(client: pg.Client, schema = 'public'): Promise<SchemaShape> {
  const shape: SchemaShape = { enums: {}, tables: {} };
  const tableFilter = `n.nspname = $1 AND c.relname <> '_prisma_migrations'`;

  const enums = await client.query<{ name: string; labels: string[] }>(
    `SELECT t.typname::text AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = $1 GROUP BY t.typname`,
    [schema],
  );
  for (const row of enums.rows) shape.enums[row.name] = row.labels;

  const columns = await client.query<{ tbl: string; col: string; type: string; notnull: boolean; hasdef: boolean }>(
    `SELECT c.relname::text AS tbl, a.attname::text AS col, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS notnull, a.atthasdef AS hasdef
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${tableFilter} AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped`,
    [schema],
  );
  for (const row of columns.rows) {
    const table = (shape.tables[row.tbl] ??= { columns: {}, primaryKey: null, indexes: {}, foreignKeys: {} });
    table.columns[row.col] = { type: row.type, nullable: !row.notnull, hasDefault: row.hasdef };
  }

  const indexes = await client.query<{ tbl: string; name: string; uniq: boolean; pk: boolean; cols: string[] }>(
    `SELECT c.relname::text AS tbl, i.relname::text AS name, ix.indisunique AS uniq, ix.indisprimary AS pk,
            array(SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.ord) AS cols
       FROM pg_index ix JOIN pg_class c ON c.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${tableFilter}`,
    [schema],
  );
  for (const row of indexes.rows) {
    const table = shape.tables[row.tbl]!;
    if (row.pk) table.primaryKey = { name: row.name, columns: row.cols };
    else table.indexes[row.name] = { columns: row.cols, unique: row.uniq };
  }

  const fks = await client.query<{
    tbl: string;
    name: string;
    cols: string[];
    reftbl: string;
    refcols: string[];
    del: string;
    upd: string;
  }>(
    `SELECT c.relname::text AS tbl, con.conname::text AS name, r.relname::text AS reftbl,
            array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS cols,
            array(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS refcols,
            con.confdeltype::text AS del, con.confupdtype::text AS upd
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class r ON r.oid = con.confrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE con.contype = 'f' AND ${tableFilter}`,
    [schema],
  );
  for (const row of fks.rows) {
    shape.tables[row.tbl]!.foreignKeys[row.name] = {
      columns: row.cols,
      refTable: row.reftbl,
      refColumns: row.refcols,
      onDelete: FK_ACTIONS[row.del] ?? row.del,
      onUpdate: FK_ACTIONS[row.upd] ?? row.upd,
    };
  }
  return shape;
}
