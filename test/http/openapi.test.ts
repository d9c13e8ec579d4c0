import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  adminOperations,
  RESOURCES,
  type AdminOperation,
  type Resource,
  type Schema,
} from "../../src/http/admin-resources.js";
import { openApiDocument, registeredRoutes } from "../../src/http/openapi.js";
import { TestPki } from "../support/pki.js";
import { startServer, type TestServer } from "../support/server.js";

/**
 * The OpenAPI document: valid OpenAPI 3.1, the same paths and methods as the routes Fastify has (both
 * ways), write-only fields never in an answer, and schemas that agree with the validation of the
 * use-cases (a body a schema refuses is refused by the server with a 400 naming the same field).
 */
const METHODS = ["get", "post", "put", "delete", "patch", "options"];
const document = openApiDocument();

let server: TestServer;
let packagesDir: string;

beforeAll(async () => {
  // The packages Conduit ships (the flow examples write into OAuthExamples), on a copy.
  packagesDir = mkdtempSync(join(tmpdir(), "conduit-openapi-packages-"));
  cpSync(join(process.cwd(), "packages"), packagesDir, { recursive: true });
  server = await startServer({ env: { CONDUIT_PACKAGES_DIR: packagesDir } });
});

afterAll(async () => {
  await server?.close();
  rmSync(packagesDir, { recursive: true, force: true });
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  auth: string | null = server.adminAuth,
  // JSON answers of every shape of the API, read field by field below.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(auth ? { authorization: auth } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator), every $ref resolving", async () => {
    const validator = new Validator();
    const result = await validator.validate(
      structuredClone(document) as Parameters<Validator["validate"]>[0],
    );
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  it("is served at GET /admin/api/openapi.json without credentials, with the public URL as server", async () => {
    const served = await call("GET", "/admin/api/openapi.json", undefined, null);
    expect(served.status).toBe(200);
    expect(served.body).toEqual(openApiDocument({ serverUrl: server.config.publicUrl }));
    expect(JSON.stringify(served.body)).not.toMatch(/admin-password-for-tests/);
  });

  it("has every component schema valid as JSON Schema 2020-12 (strict Ajv)", () => {
    const ajv = new Ajv2020({ strict: true, strictTypes: false, validateFormats: false });
    ajv.addKeyword("example");
    for (const [name, schema] of Object.entries(document.components.schemas))
      expect(() => ajv.compile(resolveRefs(schema)), name).not.toThrow();
  });

  it("documents each admin operation with the use-case of src/admin/ it calls", () => {
    for (const op of adminOperations()) {
      const documented = document.paths[op.path]?.[op.method.toLowerCase()];
      expect(documented, `${op.method} ${op.path}`).toBeDefined();
      expect(documented!["x-use-case"]).toBe(op.useCase);
      expect(Object.keys(documented!.responses as object)).toEqual(
        expect.arrayContaining(op.success.map(String)),
      );
    }
  });
});

// ---- the routes Fastify has and the document's paths, compared both ways

/** A route's path with its parameters unnamed: `/a/:x` and `/a/{y}` are both `/a/{}`. */
function key(method: string, url: string): string {
  const path = url
    .replace(/^\/invoke\/\*$/, "/invoke/{folder}/{service}")
    // The Integration Server spelling folder:service of the same route (documented as such).
    .replace(/^\/invoke\/pub\.oauth::/, "/invoke/pub.oauth/")
    .replace(/:\w+/g, "{}")
    .replace(/\{\w+\}/g, "{}");
  return `${method.toUpperCase()} ${path}`;
}
const inScope = (url: string) => /^\/(admin\/api|oauth2|\.well-known|invoke)\//.test(url);
/** A URL to send to a route: each parameter some value. */
const concrete = (path: string) =>
  path.replace(/^\/invoke\/\{\}\/\{\}$/, "/invoke/pub.math/randomDouble").replace(/\{\}/g, "x");

describe("routes and document cannot drift", () => {
  it("every route under /admin/api and of the OAuth endpoints and /invoke is in the document, and back", async () => {
    const routes = registeredRoutes(server.app).filter((r) => r.method !== "HEAD" && inScope(r.url));
    const fastify = new Set(routes.map((r) => key(r.method, r.url)));
    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, item]) =>
        METHODS.filter((m) => item[m]).map((m) => key(m, path)),
      ),
    );
    expect(fastify.size).toBeGreaterThan(60);
    for (const k of documented) expect(fastify, `documented but not routed: ${k}`).toContain(k);
    for (const k of fastify) {
      if (documented.has(k)) continue;
      // The OAuth endpoints and /invoke route every method and answer 405 to those they do not take:
      // an undocumented route must be exactly that.
      expect(k.startsWith("/admin/api/") || k.includes(" /admin/api/"), `undocumented admin route ${k}`).toBe(
        false,
      );
      const [method, path] = k.split(" ") as [string, string];
      const res = await server.app.inject({ method: method as "GET", url: concrete(path) });
      expect(res.statusCode, `routed but not documented: ${k}`).toBe(405);
    }
    // And what is documented is really served (not a 405 of a catch-all).
    for (const k of documented) {
      const [method, path] = k.split(" ") as [string, string];
      const res = await server.app.inject({ method: method as "GET", url: concrete(path) });
      expect(res.statusCode, `documented ${k}`).not.toBe(405);
      expect(res.statusCode, `documented ${k}`).not.toBe(404);
    }
  });
});

// ---- write-only fields

/** Every schema an answer can have, with its $refs followed. */
function answerSchemas(): { where: string; schema: Schema }[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).flatMap((m) =>
      Object.entries((item[m]!.responses ?? {}) as Record<string, Schema>).flatMap(([status, r]) => {
        const content = (resolveRefs(r).content ?? {}) as Record<string, { schema?: Schema }>;
        return Object.values(content)
          .filter((c) => c.schema)
          .map((c) => ({ where: `${m} ${path} ${status}`, schema: resolveRefs(c.schema!) }));
      }),
    ),
  );
}

/** Every (property name, schema) of a schema, at any depth. */
function properties(schema: unknown, out: [string, Schema][] = []): [string, Schema][] {
  if (Array.isArray(schema)) for (const s of schema) properties(s, out);
  else if (schema && typeof schema === "object") {
    const s = schema as Schema;
    for (const [name, p] of Object.entries((s.properties ?? {}) as Record<string, Schema>))
      out.push([name, p]);
    for (const value of Object.values(s)) properties(value, out);
  }
  return out;
}

describe("write-only fields", () => {
  it("never appear in an answer's schema (neither as a property nor as required)", () => {
    const writeOnly = RESOURCES.flatMap((r) =>
      Object.entries(r.fields)
        .filter(([, s]) => s.writeOnly === true)
        .map(([name]) => ({ r, name })),
    );
    expect(writeOnly.map((w) => w.name)).toEqual(
      expect.arrayContaining(["password", "clientSecret", "clientKey"]),
    );
    for (const { where, schema } of answerSchemas()) {
      for (const [name, p] of properties(schema))
        expect(p.writeOnly, `${where}: ${name} is writeOnly in an answer`).not.toBe(true);
    }
    for (const { r, name } of writeOnly) {
      const answer = document.components.schemas[r.name]!;
      expect(Object.keys((answer.properties ?? {}) as object), `${r.name}.${name}`).not.toContain(name);
      expect((answer.required ?? []) as string[], `${r.name}.${name}`).not.toContain(name);
    }
  });

  it("are never returned: create then get and list each resource that has one", async () => {
    const pki = new TestPki();
    try {
      const client = pki.leaf("/CN=conduit-client");
      const withSecrets = RESOURCES.filter((r) => r.secrets || r.once);
      expect(withSecrets.map((r) => r.name)).toEqual(
        expect.arrayContaining(["User", "ExternalServer", "GlobalVariable", "Client"]),
      );
      for (const r of withSecrets) {
        const example: Record<string, unknown> = {
          ...(r.examples?.create ?? r.examples?.update),
          ...r.examples?.secret,
          ...(r.name === "ExternalServer" ? { clientCertificate: client.cert, clientKey: client.key } : {}),
        };
        const values = (r.secrets ?? [])
          .map((s) => example[s])
          .filter((v) => typeof v === "string") as string[];
        expect(values.length + Object.keys(r.once ?? {}).length, r.name).toBeGreaterThan(0);
        const created = r.calls.create
          ? await call("POST", `/admin/api${r.path}`, example)
          : await call("PUT", `/admin/api${r.path}/${r.exampleId}`, example);
        expect(created.status, `${r.name} ${JSON.stringify(created.body)}`).toBe(201);
        const id = String(created.body[r.id!] ?? example[r.id!] ?? r.exampleId);
        const got = await call("GET", `/admin/api${r.path}/${encodeURIComponent(id)}`);
        const listed = await call("GET", `/admin/api${r.path}`);
        expect([got.status, listed.status]).toEqual([200, 200]);
        for (const [what, answer] of [
          ["create", created.body],
          ["get", got.body],
          ["list", listed.body],
        ] as const) {
          const text = JSON.stringify(answer);
          for (const name of r.secrets ?? [])
            expect(text, `${r.name} ${what}: ${name}`).not.toContain(`"${name}"`);
          for (const value of values) expect(text, `${r.name} ${what}`).not.toContain(value);
        }
        // A generated secret is in the answer of create, shown that once.
        for (const name of Object.keys(r.once ?? {})) {
          expect(typeof created.body[name], `${r.name}.${name} on create`).toBe("string");
          for (const answer of [got.body, listed.body])
            expect(JSON.stringify(answer)).not.toContain(created.body[name] as string);
        }
        expect((await call("DELETE", `/admin/api${r.path}/${encodeURIComponent(id)}`)).status).toBe(204);
      }
    } finally {
      pki.cleanup();
    }
  });
});

// ---- the schemas agree with the use-cases' validation

function resolveRefs(schema: Schema, seen = new Set<string>()): Schema {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (!value || typeof value !== "object") return value;
    const object = value as Schema;
    if (typeof object.$ref === "string") {
      const name = object.$ref.split("/").pop()!;
      const section = object.$ref.includes("/responses/") ? "responses" : "schemas";
      if (seen.has(name)) return {};
      return resolveRefs(document.components[section][name]!, new Set([...seen, name]));
    }
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, walk(v)]));
  };
  return walk(schema) as Schema;
}

const ajv = new Ajv2020({ strict: false })
  .addFormat("uri", (value: string) => URL.canParse(value))
  .addFormat("date-time", (value: string) =>
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value),
  );
const validators = new Map<string, ValidateFunction>();
function validate(schema: Schema, value: unknown): string | undefined {
  const text = JSON.stringify(schema);
  let check = validators.get(text);
  if (!check) validators.set(text, (check = ajv.compile(resolveRefs(schema))));
  return check(value) ? undefined : ajv.errorsText(check.errors);
}

const typesOf = (s: Schema): string[] => [s.type ?? []].flat() as string[];
/** A value of another JSON type than the schema allows (never null: the use-cases take null as absent). */
function wrongType(s: Schema): unknown {
  const types = typesOf(s);
  const jsonType = (v: unknown) =>
    Array.isArray(v)
      ? "array"
      : Number.isInteger(v)
        ? "integer"
        : typeof v === "number"
          ? "number"
          : typeof v;
  return [7, "seven", true, ["x"], { x: 1 }].find(
    (v) => !types.includes(jsonType(v)) && !(jsonType(v) === "integer" && types.includes("number")),
  );
}

/** Bodies the schema refuses, each naming the property at fault (`undefined`: an unknown field). */
function mutations(
  schema: Schema,
  base: Record<string, unknown>,
): { why: string; field?: string; body: object }[] {
  const out: { why: string; field?: string; body: object }[] = [];
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const set = (field: string, value: unknown, why: string) =>
    out.push({ why: `${field} ${why}`, field, body: { ...base, [field]: value } });
  for (const [name, p] of Object.entries(props)) {
    if (p.type !== undefined) set(name, wrongType(p), "of another type");
    if (Array.isArray(p.enum)) set(name, "not-one-of-them", "not in the enum");
    if (typeof p.minimum === "number") set(name, p.minimum - 1, "below the minimum");
    if (typeof p.maximum === "number") set(name, p.maximum + 1, "above the maximum");
    if (typeof p.maxLength === "number") set(name, "x".repeat(p.maxLength + 1), "too long");
    if (typeof p.minLength === "number" && p.minLength > 1)
      set(name, "x".repeat(p.minLength - 1), "too short");
    if (typeof p.pattern === "string") {
      const pattern = new RegExp(p.pattern, "u");
      const bad = [" ", "a b:c\u0001"].find((v) => !pattern.test(v));
      if (bad !== undefined) set(name, bad, "against the pattern");
    }
    if (p.format === "uri") set(name, "not a URI", "not a URI");
    if (typeof p.maxItems === "number")
      set(
        name,
        Array.from({ length: p.maxItems + 1 }, (_, i) => `item${i}`),
        "with too many items",
      );
    if (typeof p.minItems === "number" && p.minItems > 0) set(name, [], "with too few items");
    const items = p.items as Schema | undefined;
    if (items?.enum) set(name, ["not-one-of-them"], "with an item not in the enum");
    if (typeof items?.minLength === "number" && items.minLength > 0) set(name, [""], "with an empty item");
    if (typeof items?.maxLength === "number")
      set(name, ["x".repeat(items.maxLength + 1)], "with a long item");
  }
  for (const name of (schema.required ?? []) as string[]) {
    const { [name]: _omitted, ...rest } = base;
    out.push({ why: `${name} missing`, field: name, body: rest });
  }
  out.push({ why: "an unknown field", body: { ...base, noSuchField: 1 } });
  return out;
}

const url = (op: AdminOperation, id: string) => op.path.replace(/\{\w+\}/, encodeURIComponent(id));

/** Sends each mutation of the operation's example and expects the use-case's 400 naming its field. */
async function refusesWhatTheSchemaRefuses(op: AdminOperation, id: string): Promise<number> {
  const schema = resolveRefs(op.request!);
  const base = op.example!;
  expect(validate(schema, base), `${op.operationId}: its example`).toBeUndefined();
  let count = 0;
  for (const m of mutations(schema, base)) {
    expect(validate(schema, m.body), `${op.operationId}: the schema refuses ${m.why}`).toBeDefined();
    const res = await call(op.method, url(op, id), m.body);
    expect(res.status, `${op.operationId} ${m.why}: ${JSON.stringify(res.body)}`).toBe(400);
    if (m.field === undefined) expect(res.body.error).toBe("unknown_field");
    // The flow parser names the path within the definition that is wrong, under `problems`.
    else if (res.body.error === "invalid_flow")
      expect([m.field, res.body.problems?.length > 0]).toEqual(["definition", true]);
    else expect(res.body.field, `${op.operationId} ${m.why}: ${JSON.stringify(res.body)}`).toBe(m.field);
    count++;
  }
  return count;
}

async function answersAsDocumented(op: AdminOperation, id: string, body?: unknown) {
  const res = await call(op.method, url(op, id), body);
  expect(op.success, `${op.operationId}: ${res.status} ${JSON.stringify(res.body)}`).toContain(res.status);
  if (op.response) expect(validate(op.response, res.body), `${op.operationId} answer`).toBeUndefined();
  else expect(res.body).toBeUndefined();
  return res;
}

describe("the schemas agree with the use-cases' validation", () => {
  const byResource = (r: Resource) => adminOperations().filter((op) => op.resource === r);

  for (const r of RESOURCES)
    it(`${r.tag}: refused bodies and queries are 400 naming the field; answers match their schemas`, async () => {
      let refused = 0;
      let id = r.exampleId ?? String(r.examples?.create?.[r.id ?? ""] ?? "");
      for (const op of byResource(r)) {
        if (op.kind === "delete") continue;
        if (op.request && op.example) refused += await refusesWhatTheSchemaRefuses(op, id);
        for (const q of op.query ?? []) {
          const bad = [q.schema.minimum, q.schema.maximum].filter((v) => typeof v === "number") as number[];
          const values = [
            ...bad.map((v, i) => String(i === 0 ? v - 1 : v + 1)),
            ...(q.schema.enum ? ["not-one-of-them"] : []),
          ];
          for (const value of values) {
            const res = await call("GET", `${url(op, id)}?${q.name}=${value}`);
            expect([res.status, res.body.field], `${op.operationId} ${q.name}=${value}`).toEqual([
              400,
              q.name,
            ]);
            refused++;
          }
        }
        if (op.request && !op.example) continue;
        const res = await answersAsDocumented(op, id, op.example);
        if (op.kind === "create" && r.id) id = String(res.body[r.id] ?? id);
        if (op.kind === "upsert") await answersAsDocumented(op, id, op.example); // now a replacement
      }
      // The listed answers again, with the item made above in them.
      for (const op of byResource(r).filter((o) => o.kind === "list" || o.kind === "get"))
        await answersAsDocumented(op, id);
      const remove = byResource(r).find((o) => o.kind === "delete");
      if (remove && (r.examples?.create || r.examples?.update)) {
        await answersAsDocumented(remove, id);
        const get = byResource(r).find((o) => o.kind === "get");
        if (get) expect((await call("GET", url(get, id))).status).toBe(404);
      }
      if (byResource(r).some((op) => op.request)) expect(refused, r.tag).toBeGreaterThan(0);
    });
});
