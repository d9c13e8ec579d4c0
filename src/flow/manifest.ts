import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";

/**
 * A package's manifest (`manifest.json` or `manifest.yaml` at the package root):
 * `{version, description, requires: [packages], acls: {node: ACL}}`. `acls` are defaults: applied to a
 * folder or service of the package that has no ACL yet, so an administrator's later assignment wins and
 * survives reloads.
 */
export interface Manifest {
  name?: string;
  version?: string;
  description?: string;
  requires?: string[];
  acls?: Record<string, string>;
}

export const MANIFEST_FILES = ["manifest.json", "manifest.yaml", "manifest.yml"];

/** Package names: a letter, then letters, digits and `_` (as in IS). */
export const PACKAGE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;

const validate = new Ajv({ allErrors: true }).compile<Manifest>({
  type: "object",
  additionalProperties: false,
  properties: {
    $schema: { type: "string" },
    name: { type: "string" },
    version: { type: "string" },
    description: { type: "string" },
    requires: { type: "array", items: { type: "string", pattern: PACKAGE_NAME.source } },
    acls: { type: "object", additionalProperties: { type: "string", minLength: 1 } },
  },
});

export function parseManifest(text: string): { manifest?: Manifest; problems: string[] } {
  let value: unknown;
  try {
    value = parseYaml(text, { maxAliasCount: 50, logLevel: "error" });
  } catch (error) {
    return { problems: [`not valid JSON or YAML: ${(error as Error).message.split("\n")[0]}`] };
  }
  if (!validate(value))
    return {
      problems: (validate.errors ?? []).map((e) =>
        e.keyword === "additionalProperties"
          ? `unknown property "${String(e.params.additionalProperty)}"`
          : `${e.instancePath || "/"} ${e.message ?? "is not valid"}`,
      ),
    };
  return { manifest: value, problems: [] };
}
