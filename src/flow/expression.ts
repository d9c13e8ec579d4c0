import type { Pipeline } from "../services/types.js";
import { getPath } from "./paths.js";

/**
 * BRANCH label expressions (evaluateLabels): `%status% == 200 and %body/ok% != false`, with `==`, `!=`,
 * `<`, `<=`, `>`, `>=`, `and`/`&&`, `or`/`||`, `not`/`!`, parentheses, numbers, quoted strings, `true`,
 * `false`, `$null` and `%pipeline/path%` references. Values compare as numbers when both are numeric,
 * else as text. Parsed once, when the flow is loaded; a syntax error is a definition error.
 */
export type Expression = (pipeline: Pipeline) => unknown;

type Token =
  { kind: "op"; value: string } | { kind: "literal"; value: unknown } | { kind: "ref"; value: string };

const NULL = Symbol("null");

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const pattern =
    /\s*(?:(==|!=|<=|>=|&&|\|\||[<>()!])|(-?\d+(?:\.\d+)?)|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|%([^%]+)%|([A-Za-z$][\w$]*))/y;
  let index = 0;
  while (index < text.length) {
    if (/^\s*$/.test(text.slice(index))) break;
    pattern.lastIndex = index;
    const m = pattern.exec(text);
    if (!m) throw new SyntaxError(`unexpected "${text.slice(index).trim().slice(0, 10)}" at ${index}`);
    index = pattern.lastIndex;
    if (m[1] !== undefined) tokens.push({ kind: "op", value: m[1] });
    else if (m[2] !== undefined) tokens.push({ kind: "literal", value: Number(m[2]) });
    else if (m[3] !== undefined || m[4] !== undefined)
      tokens.push({ kind: "literal", value: (m[3] ?? m[4])!.replace(/\\(.)/g, "$1") });
    else if (m[5] !== undefined) tokens.push({ kind: "ref", value: m[5] });
    else {
      const word = m[6]!;
      if (word === "and" || word === "or" || word === "not")
        tokens.push({ kind: "op", value: word === "and" ? "&&" : word === "or" ? "||" : "!" });
      else if (word === "true" || word === "false") tokens.push({ kind: "literal", value: word === "true" });
      else if (word === "$null") tokens.push({ kind: "literal", value: NULL });
      else throw new SyntaxError(`unknown word "${word}" (pipeline values are written %name%)`);
    }
  }
  return tokens;
}

export function compileExpression(text: string): Expression {
  const tokens = tokenize(text);
  let position = 0;
  const peek = () => tokens[position];
  const isOp = (value: string) => {
    const token = peek();
    return token?.kind === "op" && token.value === value;
  };

  const primary = (): Expression => {
    const token = tokens[position++];
    if (!token) throw new SyntaxError("the expression ends too early");
    if (token.kind === "literal") return () => token.value;
    if (token.kind === "ref") return (p) => getPath(p, token.value);
    if (token.value === "(") {
      const inner = or();
      if (!isOp(")")) throw new SyntaxError('missing ")"');
      position += 1;
      return inner;
    }
    throw new SyntaxError(`unexpected "${token.value}"`);
  };
  const comparison = (): Expression => {
    const left = primary();
    const token = peek();
    if (token?.kind !== "op" || !Object.hasOwn(COMPARISONS, token.value)) return left;
    position += 1;
    const right = primary();
    return (p) => compare(token.value, left(p), right(p));
  };
  const not = (): Expression => {
    if (isOp("!")) {
      position += 1;
      const inner = not();
      return (p) => !truthy(inner(p));
    }
    return comparison();
  };
  /** A left-associative chain of `operand (op operand)*`, short-circuiting like JavaScript. */
  const chain = (op: "&&" | "||", operand: () => Expression) => (): Expression => {
    let left = operand();
    while (isOp(op)) {
      position += 1;
      const l = left;
      const r = operand();
      left = op === "&&" ? (p) => truthy(l(p)) && truthy(r(p)) : (p) => truthy(l(p)) || truthy(r(p));
    }
    return left;
  };
  const and = chain("&&", not);
  const or: () => Expression = chain("||", and);

  if (tokens.length === 0) throw new SyntaxError("the expression is empty");
  const expression = or();
  if (position < tokens.length) throw new SyntaxError(`unexpected "${String(tokens[position]!.value)}"`);
  return (p) => truthy(expression(p));
}

function isNull(value: unknown): boolean {
  return value === NULL || value === undefined || value === null;
}

function truthy(value: unknown): boolean {
  if (isNull(value) || value === false || value === "" || value === "false" || value === 0) return false;
  return true;
}

function numeric(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return undefined;
}

function compare(op: string, a: unknown, b: unknown): boolean {
  if (isNull(a) || isNull(b)) {
    const same = isNull(a) && isNull(b);
    if (op === "==") return same;
    if (op === "!=") return !same;
    return false;
  }
  const na = numeric(a);
  const nb = numeric(b);
  const [x, y]: [number | string, number | string] =
    na !== undefined && nb !== undefined ? [na, nb] : [text(a), text(b)];
  return COMPARISONS[op]!(x, y);
}

type Comparable = number | string;
const COMPARISONS: Record<string, (x: Comparable, y: Comparable) => boolean> = {
  "==": (x, y) => x === y,
  "!=": (x, y) => x !== y,
  "<": (x, y) => x < y,
  "<=": (x, y) => x <= y,
  ">": (x, y) => x > y,
  ">=": (x, y) => x >= y,
};

function text(value: unknown): string {
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}
