import { z } from "zod";
import { fieldDocs } from "./_fields.ts";
import { unwrapSchema } from "./_schema_walk.ts";
import { configSchema, type ServiceKind } from "./load_config.ts";

/** One row of the configuration reference. */
export interface ConfigReferenceRow {
  /** Dotted key path; `btcd[].url` for keys inside array elements. */
  key: string;
  /** Expected form, e.g. "a positive integer". */
  type: string;
  /** Default as JSON, "required", "unset", or a description of a derived default. */
  default: string;
  /** One-line description. */
  doc: string;
}

function defaultOf(field: z.ZodType, defaultText: string | undefined): string {
  if (defaultText !== undefined) return defaultText;
  if (field instanceof z.ZodDefault) return JSON.stringify(field.def.defaultValue);
  if (field instanceof z.ZodPrefault) return "(section)";
  if (field instanceof z.ZodOptional) return "unset";
  return "required";
}

function walk(object: z.ZodObject, prefix: string, rows: ConfigReferenceRow[]): void {
  for (const [key, value] of Object.entries(object.shape)) {
    const field = value as z.ZodType;
    const doc = fieldDocs.get(field);
    if (doc === undefined) {
      throw new TypeError(`Cannot document config key ${prefix}${key}: it has no description`);
    }
    const inner = unwrapSchema(field);
    const element = inner instanceof z.ZodArray ? unwrapSchema(inner.element as z.ZodType) : null;
    rows.push({
      key: `${prefix}${key}`,
      type: element instanceof z.ZodObject ? "array of objects" : doc.type,
      default: defaultOf(field, doc.defaultText),
      doc: doc.doc,
    });
    if (inner instanceof z.ZodObject) walk(inner, `${prefix}${key}.`, rows);
    if (element instanceof z.ZodObject) walk(element, `${prefix}${key}[].`, rows);
  }
}

/**
 * Every key of a service's config file with its expected form, default and description,
 * in schema order, for the README's configuration reference (`tools/config_reference.ts`).
 *
 * @throws {TypeError} if a key lacks a description (a schema bug, caught by its unit test)
 */
export function configReference(kind: ServiceKind): ConfigReferenceRow[] {
  const schema = unwrapSchema(configSchema(kind) as z.ZodType);
  if (!(schema instanceof z.ZodObject)) {
    throw new TypeError(`Cannot document ${kind} config: its schema is not an object`);
  }
  const rows: ConfigReferenceRow[] = [];
  walk(schema, "", rows);
  return rows;
}
