import { pathToFileURL } from "node:url";
import { isServiceName, type FieldSpec, type ServiceDefinition } from "../services/types.js";

const TYPES = new Set(["string", "number", "integer", "boolean", "object", "array", "bytes", "any"]);

function fieldsProblem(fields: unknown, where: string): string | undefined {
  if (fields === undefined) return undefined;
  if (!Array.isArray(fields)) return `${where} must be an array`;
  for (const field of fields as Partial<FieldSpec>[])
    if (!field || typeof field.name !== "string" || !TYPES.has(String(field.type)))
      return `${where} has a field without a name or with an unknown type`;
  return undefined;
}

/**
 * Loads a package's code services: an ES module exporting `services` (or a default export), an array of
 * `{name, description, signature: {input, output}, run(input, ctx)}`. Each module is imported afresh on
 * every reload (the URL carries the file's modification time).
 */
export async function loadServiceModule(
  file: string,
  version: number,
): Promise<{ services: ServiceDefinition[]; problems: string[] }> {
  let module: Record<string, unknown>;
  try {
    module = (await import(`${pathToFileURL(file).href}?v=${version}`)) as Record<string, unknown>;
  } catch (error) {
    return { services: [], problems: [`cannot be imported: ${(error as Error).message.split("\n")[0]}`] };
  }
  const exported = module.services ?? module.default;
  if (!Array.isArray(exported))
    return { services: [], problems: ["exports no `services` array (named or default export)"] };
  const services: ServiceDefinition[] = [];
  const problems: string[] = [];
  exported.forEach((candidate: unknown, i) => {
    const s = candidate as Partial<ServiceDefinition> | null;
    const label = `service ${i} (${String(s?.name)})`;
    if (!s || typeof s !== "object") return problems.push(`${label} is not an object`);
    if (typeof s.name !== "string" || !isServiceName(s.name))
      return problems.push(`${label}: name must be folder.sub:service`);
    if (typeof s.run !== "function") return problems.push(`${label}: run must be a function`);
    const signature = s.signature as { input?: unknown; output?: unknown } | undefined;
    const bad =
      fieldsProblem(signature?.input, `${label}: signature.input`) ??
      fieldsProblem(signature?.output, `${label}: signature.output`);
    if (bad) return problems.push(bad);
    services.push({
      name: s.name,
      description: typeof s.description === "string" ? s.description : "",
      signature: {
        input: (signature?.input as FieldSpec[] | undefined) ?? [],
        output: (signature?.output as FieldSpec[] | undefined) ?? [],
      },
      run: s.run.bind(s),
    });
    return undefined;
  });
  return { services, problems };
}
