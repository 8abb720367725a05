import { z } from "zod";

/** Strips default/prefault/optional wrappers down to the schema that validates the value. */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    if (
      current instanceof z.ZodDefault || current instanceof z.ZodPrefault ||
      current instanceof z.ZodOptional
    ) {
      current = current.unwrap() as z.ZodType;
    } else {
      return current;
    }
  }
}

/**
 * The object schema found by following a value path (keys and array indices) from `root`.
 *
 * @returns the object schema, or undefined when the path does not lead to one
 */
export function objectSchemaAt(
  root: z.ZodType,
  path: readonly PropertyKey[],
): z.ZodObject | undefined {
  let current = unwrapSchema(root);
  for (const segment of path) {
    if (typeof segment === "number" && current instanceof z.ZodArray) {
      current = unwrapSchema(current.element as z.ZodType);
    } else if (typeof segment === "string" && current instanceof z.ZodObject) {
      const next = current.shape[segment] as z.ZodType | undefined;
      if (next === undefined) return undefined;
      current = unwrapSchema(next);
    } else {
      return undefined;
    }
  }
  return current instanceof z.ZodObject ? current : undefined;
}
