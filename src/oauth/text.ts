/**
 * Whether any string among `values` (walked through objects and arrays, keys included) holds U+0000. No
 * identifier, URI or name of the authorization server can, and PostgreSQL refuses it in text, so callers
 * answer 400 instead of a database error. Iterative, so deeply nested JSON cannot overflow the stack.
 */
export function containsNul(values: unknown[]): boolean {
  const pending = [...values];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === "string") {
      if (value.includes("\u0000")) return true;
    } else if (typeof value === "object" && value !== null)
      for (const [name, inner] of Object.entries(value)) pending.push(name, inner);
  }
  return false;
}
