import { lookup } from "../services/substitution.js";
import type { Pipeline } from "../services/types.js";

/** Pipeline paths as IS writes them: `doc/field`, `list[0]`, `doc/list[2]/name`. */
const SEGMENT = /^([^[\]/]+)((?:\[\d+\])*)$/;
const PATH = /^[^[\]/]+(?:\[\d+\])*(?:\/[^[\]/]+(?:\[\d+\])*)*$/;

type Key = string | number;

/** Whether `path` is a pipeline path. `__proto__` is never a field name (it would reach the prototype). */
export function isPath(path: string): boolean {
  return PATH.test(path) && !path.split("/").some((segment) => segment.split("[")[0] === "__proto__");
}

/**
 * Sets an own data property, even for the key `__proto__` (which `object[key] = value` would turn into a
 * change of the object's prototype): data from JSON (`{"__proto__": …}`) stays data.
 */
export function defineField(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__")
    Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  else object[key] = value;
}

function keys(path: string): Key[] {
  const out: Key[] = [];
  for (const segment of path.split("/")) {
    const match = SEGMENT.exec(segment);
    if (!match || match[1] === "__proto__") throw new TypeError(`"${path}" is not a pipeline path`);
    out.push(match[1]!);
    for (const index of match[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(index[1]));
  }
  return out;
}

export function getPath(pipeline: Pipeline, path: string): unknown {
  return lookup(pipeline, path);
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return value !== null && typeof value === "object" && !(value instanceof Uint8Array);
}

function child(container: Container, key: Key): unknown {
  if (Array.isArray(container)) return typeof key === "number" ? container[key] : undefined;
  return typeof key === "string" && Object.hasOwn(container, key) ? container[key] : undefined;
}

function put(container: Container, key: Key, value: unknown): void {
  if (Array.isArray(container) && typeof key === "number") container[key] = value;
  else if (!Array.isArray(container) && typeof key === "string") defineField(container, key, value);
}

/**
 * Writes `value` at `path`, creating documents and lists on the way. Containers on the way are copied
 * (never shared with the value they came from), so a copy never aliases its source.
 */
export function setPath(pipeline: Pipeline, path: string, value: unknown): void {
  const chain = keys(path);
  let current: Container = pipeline;
  for (let i = 0; i < chain.length - 1; i += 1) {
    const key = chain[i]!;
    const next = child(current, key);
    const wantArray = typeof chain[i + 1] === "number";
    const fresh: Container =
      isContainer(next) && Array.isArray(next) === wantArray ? shallow(next) : wantArray ? [] : {};
    put(current, key, fresh);
    current = fresh;
  }
  put(current, chain[chain.length - 1]!, value);
}

/** Removes the value at `path`; a path that does not exist is not an error. */
export function dropPath(pipeline: Pipeline, path: string): void {
  const chain = keys(path);
  let current: unknown = pipeline;
  for (const key of chain.slice(0, -1)) {
    current = isContainer(current) ? child(current, key) : undefined;
    if (current === undefined) return;
  }
  const last = chain[chain.length - 1]!;
  if (Array.isArray(current) && typeof last === "number") current.splice(last, 1);
  else if (isContainer(current) && !Array.isArray(current) && typeof last === "string") delete current[last];
}

function shallow(value: Container): Container {
  return Array.isArray(value) ? [...value] : { ...value };
}

/** A deep copy of documents and lists (other values, such as bytes and streams, are shared). */
export function deepCopy<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => deepCopy(v)) as T;
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) defineField(out, k, deepCopy(v));
    return out as T;
  }
  return value;
}

/** A copy of a pipeline, to restore it after a failed step. */
export function clonePipeline(pipeline: Pipeline): Pipeline {
  return deepCopy(pipeline);
}

/** Replaces the content of `target` with that of `source`, keeping the object identity. */
export function restorePipeline(target: Pipeline, source: Pipeline): void {
  for (const key of Object.keys(target)) delete target[key];
  for (const [key, value] of Object.entries(source)) defineField(target, key, value);
}
