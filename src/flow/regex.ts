/**
 * Regular-expression labels of BRANCH (`/pattern/`) run against values that callers send, so a pattern
 * that can backtrack exponentially (ReDoS: a quantified group that itself holds a quantifier or an
 * alternation, as in `(a+)+` or `(a|aa)*`) is refused when the flow is loaded, and values longer than
 * MAX_MATCHED characters never match a regex label, which bounds the polynomial cases (`.*.*x`).
 * DEVIATION from IS, which matches any pattern against any value: the flow server answers anonymous callers.
 */
export const MAX_MATCHED = 1024;

const QUANTIFIER = /^(?:[*+?]|\{\d+(?:,\d*)?\})/;

/** The length of the group modifier after `(` (`?:`, `?=`, `?!`, `?<=`, `?<!`, `?<name>`), or 0. */
function modifier(source: string, at: number): number {
  const m = /^\?(?:[:=!]|<[=!]|<[A-Za-z_$][\w$]*>)/.exec(source.slice(at));
  return m ? m[0].length : 0;
}

/** Why the pattern may backtrack exponentially, or undefined when it may not. */
export function unsafePattern(source: string): string | undefined {
  /** For each open group: whether it holds a quantifier or an alternation. */
  const open: boolean[] = [];
  let closed: boolean | undefined;
  for (let i = 0; i < source.length; i += 1) {
    const c = source[i]!;
    const quantifier = QUANTIFIER.exec(source.slice(i))?.[0];
    if (quantifier !== undefined) {
      const bounded = quantifier === "?" || /^\{\d+\}$/.test(quantifier);
      if (closed && !bounded) return "a repeated group holds a repetition or an alternation (ReDoS)";
      if (open.length > 0) open[open.length - 1] = true;
      i += quantifier.length - 1;
      closed = undefined;
      continue;
    }
    closed = undefined;
    if (c === "\\") i += 1;
    else if (c === "[") i = endOfClass(source, i);
    else if (c === "(") {
      open.push(false);
      i += modifier(source, i + 1);
    } else if (c === ")") {
      closed = open.pop() ?? false;
      if (closed && open.length > 0) open[open.length - 1] = true;
    } else if (c === "|" && open.length > 0) open[open.length - 1] = true;
  }
  return undefined;
}

function endOfClass(source: string, at: number): number {
  for (let i = at + 1; i < source.length; i += 1) {
    if (source[i] === "\\") i += 1;
    else if (source[i] === "]") return i;
  }
  return source.length;
}
