import type { Problem, StepKind } from "../engine.js";
import { applyMap } from "../mapping.js";
import { isPath } from "../paths.js";
import type { MapSpec, MapStep } from "../types.js";

/** Checks the paths of a map (the schema checks its shape). */
export function checkMap(map: MapSpec | undefined, pointer: string): Problem[] {
  if (!map) return [];
  const problems: Problem[] = [];
  const path = (value: string, at: string) => {
    if (!isPath(value))
      problems.push({ path: at, message: `"${value}" is not a pipeline path (doc/field, list[0])` });
  };
  for (const [target, source] of Object.entries(map.copy ?? {})) {
    path(target, `${pointer}/copy/${escape(target)}`);
    path(source, `${pointer}/copy/${escape(target)}`);
  }
  for (const target of Object.keys(map.set ?? {})) path(target, `${pointer}/set/${escape(target)}`);
  (map.drop ?? []).forEach((target, i) => path(target, `${pointer}/drop/${i}`));
  return problems;
}

/** RFC 6901 §3: `~` and `/` in a pointer's token. */
function escape(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** MAP: copy (link), set (with %variable% substitution) and drop pipeline values. */
export const mapStep: StepKind<MapStep> = {
  type: "map",
  check: (step, pointer) => checkMap(step, pointer),
  async execute(step, pipeline, context) {
    applyMap(pipeline, step, context.globals);
  },
};
