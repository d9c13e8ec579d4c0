/**
 * IS pipeline-variable substitution: `%name%`, `%doc/field%`, `%list[0]%`. A reference that does not
 * resolve becomes the empty string; `%%` stays a literal percent sign pair. Extra lookups (global
 * variables) are consulted when the pipeline has no such value.
 */
export function substitute(
  template: string,
  pipeline: Record<string, unknown>,
  fallback?: (name: string) => string | undefined,
): string {
  return template.replace(/%([A-Za-z_$][\w$.\-/[\]]*)%/g, (_, path: string) => {
    const value = lookup(pipeline, path);
    if (value !== undefined && value !== null)
      return typeof value === "object" ? JSON.stringify(value) : String(value);
    return fallback?.(path) ?? "";
  });
}

/** Reads `doc/field/list[0]` from a pipeline. */
export function lookup(pipeline: Record<string, unknown>, path: string): unknown {
  let current: unknown = pipeline;
  for (const segment of path.split("/")) {
    const match = /^([^[\]]+)((?:\[\d+\])*)$/.exec(segment);
    if (!match) return undefined;
    const key = match[1]!;
    current =
      current !== null && typeof current === "object" && Object.hasOwn(current, key)
        ? (current as Record<string, unknown>)[key]
        : undefined;
    for (const index of match[2]!.matchAll(/\[(\d+)\]/g)) {
      current = Array.isArray(current) ? current[Number(index[1])] : undefined;
    }
    if (current === undefined) return undefined;
  }
  return current;
}
