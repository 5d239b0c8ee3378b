import { readFileSync, readdirSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * Checks Kubernetes custom resources (KServe, Seldon Core v2) against the
 * hand-written JSON Schemas in test/fixtures/crd-schemas, so example manifests
 * are caught misspelling a field before anyone applies them to a cluster.
 *
 * ajv is not a direct dependency: the hoisted ajv 8 arrives with fastify and
 * @kubernetes-models/validate. The named import is the one NodeNext types as a class.
 */

const SCHEMA_DIR = new URL('../fixtures/crd-schemas/', import.meta.url);

interface KindSchema {
  $id: string;
  properties?: { apiVersion?: { const?: string }; kind?: { const?: string } };
}

export function crdValidator(): (object: { apiVersion: string; kind: string }) => string[] {
  const ajv = new Ajv({
    allErrors: true,
    // Strict, so a slip in the schemas themselves fails loudly; but 'needs a root node'
    // and 'exactly one of' are bare required lists, and quantities are int-or-string.
    strict: true,
    strictRequired: false,
    allowUnionTypes: true,
    // Keeps parentSchema on errors: its description explains a failed oneOf.
    verbose: true,
    // The predictor schema is reached from several places; compiling it once is faster.
    inlineRefs: false,
  });
  const schemas = readdirSync(SCHEMA_DIR)
    .filter((file) => file.endsWith('.schema.json'))
    .map((file) => JSON.parse(readFileSync(new URL(file, SCHEMA_DIR), 'utf8')) as KindSchema);
  for (const schema of schemas) ajv.addSchema(schema);

  // The kind a schema checks is read from its own consts, so adding a file is enough.
  const byKind = new Map<string, ValidateFunction>();
  for (const schema of schemas) {
    const apiVersion = schema.properties?.apiVersion?.const;
    const kind = schema.properties?.kind?.const;
    if (apiVersion && kind) byKind.set(`${apiVersion} ${kind}`, ajv.getSchema(schema.$id)!);
  }

  return (object) => {
    const validate = byKind.get(`${object.apiVersion} ${object.kind}`);
    if (!validate) return [`no schema for ${object.apiVersion} ${object.kind}`];
    return validate(object) ? [] : describe(validate.errors ?? []);
  };
}

const COMBINATORS = new Set(['anyOf', 'oneOf', 'if']);

/** One line per problem, each starting with the JSON Pointer of the offending value. */
function describe(errors: ErrorObject[]): string[] {
  const combinators = errors.filter((e) => COMBINATORS.has(e.keyword));
  // A failed oneOf/anyOf also reports every branch it tried; those add noise,
  // not information. An 'if' failure only says its 'then' failed, which is reported on its own.
  const kept = errors.filter(
    (e) =>
      e.keyword !== 'if' &&
      !combinators.some(
        (c) => c !== e && e.schemaPath.startsWith(`${c.schemaPath}/`) && e.instancePath.startsWith(c.instancePath),
      ),
  );
  return [...new Set(kept.map(line))];
}

function line(e: ErrorObject): string {
  const path = e.instancePath || '/';
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String((e.params as { additionalProperty: string }).additionalProperty);
      return `${e.instancePath}/${pointerToken(field)} is not an allowed field (misspelt or unsupported)`;
    }
    case 'enum':
      return `${path} ${e.message} (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`;
    case 'const':
      return `${path} ${e.message} (${String((e.params as { allowedValue: unknown }).allowedValue)})`;
    case 'oneOf':
    case 'anyOf':
    case 'not': {
      // The reason sits on the schema holding oneOf/anyOf, or inside the 'not'.
      const holder = e.keyword === 'not' ? e.schema : e.parentSchema;
      const why = (holder as { description?: string } | undefined)?.description;
      return why ? `${path} ${why}` : `${path} ${e.message}`;
    }
    default:
      return `${path} ${e.message}`;
  }
}

function pointerToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
