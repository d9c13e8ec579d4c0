/**
 * Whether any string among `values` (walked through objects and arrays, keys included) holds U+0000. No
 * identifier, URI or name of the authorization server can, and PostgreSQL refuses it in text, so callers
 * answer 400 instead of a database error. Iterative, so deeply nested JSON cannot overflow the stack.
 */
export function containsNul(values: unknown[]): boolean {
  const pending = values.slice();
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === "string") {
      if (value.includes("\u0000")) return true;
    } else if (typeof value === "object" && value !== null)
      // for…in, not Object.entries: no pair arrays per property on every request (the forms here are
      // null-prototype objects). It also visits inherited enumerable properties: more strings checked.
      for (const name in value) pending.push(name, (value as Record<string, unknown>)[name]);
  }
  return false;
}
