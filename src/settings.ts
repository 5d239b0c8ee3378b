import { z } from 'zod';

/**
 * Settings read from the environment, each declared once: the variable, the zod schema that
 * parses it (its default included), and what it means. The configuration's type, its parsing,
 * its error messages and the README's settings table (`npm run gen:docs`) all come from these
 * declarations, so a new setting is one entry in a table.
 */
export interface Setting<S extends z.ZodType = z.ZodType> {
  env: string;
  schema: S;
  /** What the setting does, for the README's table (markdown). */
  meaning: string;
  /** The default as the table shows it, when it is not the schema's own (a computed one, say). */
  shown?: string;
}

export function setting<S extends z.ZodType>(env: string, schema: S, meaning: string, shown?: string): Setting<S> {
  return { env, schema, meaning, ...(shown === undefined ? {} : { shown }) };
}

// Strict digits, because Number() would also accept '0x10', '1e3' and ' 12 ' from a typo'd env.
/** A whole number read from a variable, within bounds. */
export const integerSetting = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** A probability strictly between 0 and 1 read from a variable, as a decimal number. */
export const probabilitySetting = z
  .string()
  .regex(/^(\d+\.?\d*|\.\d+)(e-?\d+)?$/i, 'must be a decimal number')
  .transform(Number)
  .pipe(z.number().gt(0, 'must be greater than 0').lt(1, 'must be less than 1'));

/** Settings, nested into groups as the configuration object is. */
export interface SettingsTree {
  [key: string]: Setting | SettingsTree;
}

/** The parsed values of a tree of settings, in the tree's shape. */
export type ValuesOf<T> = { [K in keyof T]: T[K] extends Setting<infer S> ? z.output<S> : ValuesOf<T[K]> };

const isSetting = (node: Setting | SettingsTree): node is Setting => typeof (node as Setting).env === 'string' && (node as Setting).schema instanceof z.ZodType;

/** Every setting of a tree, in declaration order, with its path in the configuration. */
export function flattenSettings(tree: SettingsTree, path: string[] = []): { path: string[]; setting: Setting }[] {
  return Object.entries(tree).flatMap(([key, node]) => (isSetting(node) ? [{ path: [...path, key], setting: node }] : flattenSettings(node, [...path, key])));
}

/** The zod object that parses a tree's raw values, shaped like the tree. */
export function schemaOf<T extends SettingsTree>(tree: T): z.ZodType<ValuesOf<T>> {
  return z.object(Object.fromEntries(Object.entries(tree).map(([key, node]) => [key, isSetting(node) ? node.schema : schemaOf(node)]))) as unknown as z.ZodType<ValuesOf<T>>;
}

/**
 * The raw values of a tree's variables, in the tree's shape. Only the tree's variables are read,
 * and an empty value counts as unset, as `FOO= cmd` means in a shell.
 */
export function rawValues(tree: SettingsTree, env: Record<string, string | undefined>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(tree).map(([key, node]) => {
      if (!isSetting(node)) return [key, rawValues(node, env)];
      const value = env[node.env];
      return [key, value === '' ? undefined : value];
    }),
  );
}

/** The variable behind a path in the configuration (or inside one setting's value), for error messages. */
export function envAt(tree: SettingsTree, path: readonly PropertyKey[]): string | undefined {
  let node: Setting | SettingsTree | undefined = tree;
  for (const key of path) {
    if (!node || isSetting(node)) break;
    node = node[String(key)];
  }
  return node && isSetting(node) ? node.env : undefined;
}

/** A setting's default as text: `shown` when given, else the schema's default, else "unset". */
export function shownDefault(s: Setting): string {
  if (s.shown !== undefined) return s.shown;
  const parsed = s.schema.safeParse(undefined);
  if (!parsed.success || parsed.data === undefined) return 'unset';
  return Array.isArray(parsed.data) ? parsed.data.join(',') : String(parsed.data);
}

/** The README's settings table, one row per variable, in declaration order. */
export function settingsTable(tree: SettingsTree): string {
  const rows = flattenSettings(tree).map(({ setting: s }) => `| \`${s.env}\` | ${shownDefault(s)} | ${s.meaning} |`);
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
