import { Ajv, type ErrorObject } from "ajv";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { FlowEngine, Problem } from "./engine.js";
import { FlowDefinitionError } from "./errors.js";
import schema from "./schema.json" with { type: "json" };
import type { FlowDefinition } from "./types.js";

/** The published JSON Schema of flow files (served at /admin/api/flows/schema, and in src/flow/schema.json). */
export const flowSchema = schema;

const ajv = new Ajv({ allErrors: true, discriminator: true, strict: false });
const validateSchema = ajv.compile(schema);

/**
 * Parses flow text, YAML or JSON (YAML is a superset of JSON), into plain JSON data: any syntax error, an
 * unresolved alias or an alias that makes the document circular is a definition error naming its place.
 */
export function parseFlowText(text: string, source = "flow"): unknown {
  let value: unknown;
  try {
    value = parseYaml(text, { prettyErrors: true, maxAliasCount: 50, logLevel: "error" }) as unknown;
  } catch (error) {
    const at = error instanceof YAMLParseError ? error.linePos?.[0] : undefined;
    const where = at ? `line ${at.line}, column ${at.col}` : "";
    const message = (error as Error).message.split("\n")[0] || "syntax error";
    throw new FlowDefinitionError(`${source} is not valid YAML or JSON`, [{ path: where, message }]);
  }
  return plainData(value, source);
}

/** A JSON copy of parsed YAML: no cycles (`&a [*a]`), no shared nodes, no binary or other tagged types. */
function plainData(value: unknown, source: string): unknown {
  try {
    return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown);
  } catch {
    throw new FlowDefinitionError(`${source} is not valid YAML or JSON`, [
      { path: "", message: "an alias makes the document circular" },
    ]);
  }
}

function schemaProblem(error: ErrorObject): Problem {
  const path = error.instancePath || "/";
  if (error.keyword === "additionalProperties")
    return { path, message: `unknown property "${String(error.params.additionalProperty)}"` };
  if (error.keyword === "enum")
    return { path, message: `must be one of ${(error.params.allowedValues as unknown[]).join(", ")}` };
  if (error.keyword === "discriminator")
    return { path: `${path === "/" ? "" : path}/type`, message: "unknown or missing step type" };
  return { path, message: error.message ?? "is not valid" };
}

/**
 * Checks a parsed definition against the schema, then runs each step kind's own checks. Every problem is
 * reported at once, with a JSON pointer (RFC 6901) into the file.
 */
export function validateFlow(value: unknown, engine: FlowEngine, source = "flow"): FlowDefinition {
  if (!validateSchema(value)) {
    const problems = (validateSchema.errors ?? []).map(schemaProblem);
    throw new FlowDefinitionError(`${source} is not a valid flow: ${summary(problems)}`, dedupe(problems));
  }
  const raw = value as Omit<FlowDefinition, "signature"> & {
    signature?: Partial<FlowDefinition["signature"]>;
  };
  const flow: FlowDefinition = {
    ...raw,
    signature: { input: raw.signature?.input ?? [], output: raw.signature?.output ?? [] },
  };
  const problems = engine.check(flow);
  if (problems.length > 0)
    throw new FlowDefinitionError(`${source} is not a valid flow: ${summary(problems)}`, problems);
  return flow;
}

export function loadFlow(text: string, engine: FlowEngine, source = "flow"): FlowDefinition {
  return validateFlow(parseFlowText(text, source), engine, source);
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path} ${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function summary(problems: Problem[]): string {
  const first = problems[0];
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
  return first ? `${first.path} ${first.message}${more}` : "invalid";
}
