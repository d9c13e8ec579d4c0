import { substitute } from "../services/substitution.js";
import type { Pipeline } from "../services/types.js";
import { deepCopy, defineField, dropPath, getPath, setPath } from "./paths.js";
import type { MapSpec } from "./types.js";

/** Looks up a global variable by name (the fallback of `%name%` substitution). */
export type GlobalLookup = (name: string) => string | undefined;

/**
 * Applies a map to a pipeline in place, in IS order: copies (links) first, then set values, then drops.
 * Copies read the pipeline as it was before the map, so two links may swap values.
 */
export function applyMap(pipeline: Pipeline, map: MapSpec | undefined, globals: GlobalLookup): void {
  if (!map) return;
  const before = map.copy ? deepCopy(pipeline) : pipeline;
  for (const [target, source] of Object.entries(map.copy ?? {})) {
    const value = getPath(before, source);
    if (value !== undefined) setPath(pipeline, target, deepCopy(value));
  }
  const substituting = map.substitute !== false;
  for (const [target, value] of Object.entries(map.set ?? {}))
    setPath(pipeline, target, substituting ? substituteDeep(value, pipeline, globals) : deepCopy(value));
  for (const path of map.drop ?? []) dropPath(pipeline, path);
}

/** Substitutes `%variables%` in every string of a value (documents and lists included). */
export function substituteDeep(value: unknown, pipeline: Pipeline, globals: GlobalLookup): unknown {
  if (typeof value === "string") return substitute(value, pipeline, globals);
  if (Array.isArray(value)) return value.map((v) => substituteDeep(v, pipeline, globals));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) defineField(out, k, substituteDeep(v, pipeline, globals));
    return out;
  }
  return value;
}
