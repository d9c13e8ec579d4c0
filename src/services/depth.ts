/**
 * How deep documents (objects and arrays) may nest in what services are given. Copying, masking and JSON
 * text are recursive: a document thousands of levels deep would overflow the stack in the middle of a
 * service and answer 500. Far deeper than any real document, and far from the stack's limit.
 */
export const MAX_DOCUMENT_DEPTH = 100;

/** Whether `value` nests objects or arrays more than `limit` levels deep; iterative, so safe at any depth. */
export function nestsDeeperThan(value: unknown, limit: number = MAX_DOCUMENT_DEPTH): boolean {
  if (value === null || typeof value !== "object") return false;
  const stack: [object, number][] = [[value, 1]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [node, depth] = next;
    if (depth > limit) return true;
    if (ArrayBuffer.isView(node)) continue;
    for (const child of Array.isArray(node) ? node : Object.values(node))
      if (child !== null && typeof child === "object") stack.push([child as object, depth + 1]);
  }
  return false;
}
