import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { adminOperations, type AdminOperation, type Schema } from "./admin-resources.js";
import { openApiDocument, type OpenApiDocument } from "./openapi.js";

/**
 * The Postman collection (v2.1) and environment of docs/postman/, generated from the OpenAPI document and
 * the table of admin-resources.ts (`npm run postman` writes them; test/http/postman.test.ts checks they
 * are up to date and runs every request with newman against a live server). Folders run in order: the
 * article's walk (scope, client, token, /invoke, introspect, revoke, introspect again), then every admin
 * operation, resource by resource (each creates what it uses and deletes it), the OAuth endpoints, the
 * console session, and a clean-up. Test scripts capture ids and secrets into collection variables, as
 * Okta's collections do.
 */

const SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

type Json = Record<string, unknown>;
interface Request {
  name: string;
  method: string;
  /** Below {{baseUrl}}, with {{variables}}. */
  path: string;
  query?: Record<string, string>;
  json?: unknown;
  /** A raw JSON text, where a value is a {{variable}} that is not a string. */
  raw?: string;
  form?: Record<string, string>;
  headers?: Record<string, string>;
  auth?: Json;
  expect: number[];
  /** Lines of the test script after the status check. */
  tests?: string[];
  description?: string;
}

const basic = (username: string, password: string): Json => ({
  type: "basic",
  basic: [
    { key: "username", value: username, type: "string" },
    { key: "password", value: password, type: "string" },
  ],
});
const bearer = (token: string): Json => ({
  type: "bearer",
  bearer: [{ key: "token", value: token, type: "string" }],
});
const NO_AUTH: Json = { type: "noauth" };
const CLIENT_AUTH = basic("{{clientId}}", "{{clientSecret}}");
const capture = (variable: string, expression: string) =>
  `pm.collectionVariables.set(${JSON.stringify(variable)}, ${expression});`;
const json = "pm.response.json()";

/** A redirect URI and a PKCE challenge (RFC 7636 appendix B) for the authorization request. */
const REDIRECT_URI = "http://localhost:8080/callback";
const CODE_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/** The three calls of a client: a token (client_credentials), its introspection, its revocation. */
const tokenRequest = (name: string, path: string, variable: string, extra: string[] = []): Request => ({
  name,
  method: "POST",
  path,
  form: { grant_type: "client_credentials", scope: "postman_math" },
  auth: CLIENT_AUTH,
  expect: [200],
  tests: [...extra, capture(variable, `${json}.access_token`)],
});
const introspection = (name: string, path: string, variable: string, active: boolean): Request => ({
  name,
  method: "POST",
  path,
  form: { token: `{{${variable}}}` },
  auth: CLIENT_AUTH,
  expect: [200],
  tests: [
    active
      ? `pm.test("active", () => pm.expect(${json}.active).to.eql(true));`
      : `pm.test("inactive", () => pm.expect(${json}).to.eql({ active: false }));`,
  ],
});
const revocation = (name: string, path: string, variable: string): Request => ({
  name,
  method: "POST",
  path,
  form: { token: `{{${variable}}}`, token_type_hint: "access_token" },
  auth: CLIENT_AUTH,
  expect: [200],
});

// ---- the article's walk

const WALK: Request[] = [
  {
    name: "1. Create the scope postman_math (pub.math)",
    method: "POST",
    path: "/admin/api/oauth/scopes",
    json: { name: "postman_math", description: "the article's scope: pub.math", values: ["pub.math"] },
    expect: [201],
  },
  {
    name: "2. Create a client with client_credentials",
    method: "POST",
    path: "/admin/api/oauth/clients",
    json: {
      clientName: "postman-article",
      version: "1.0",
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["postman_math"],
      runAsUser: "{{adminUser}}",
    },
    expect: [201],
    tests: [capture("clientId", `${json}.clientId`), capture("clientSecret", `${json}.clientSecret`)],
    description:
      "The client secret is shown this once: the test script keeps it in the collection variables.",
  },
  tokenRequest("3. Get a token (client_credentials, client_secret_basic)", "/oauth2/token", "access_token", [
    `pm.test("a Bearer token", () => pm.expect(${json}.token_type).to.eql("Bearer"));`,
  ]),
  {
    name: "4. Call /invoke/pub.math/randomDouble with the token",
    method: "GET",
    path: "/invoke/pub.math/randomDouble",
    auth: bearer("{{access_token}}"),
    expect: [200],
    tests: [`pm.test("a number from 0 to 1", () => pm.expect(${json}.number).to.be.within(0, 1));`],
  },
  introspection("5. Introspect the token (active)", "/oauth2/introspect", "access_token", true),
  revocation("6. Revoke the token", "/oauth2/revoke", "access_token"),
  introspection("7. Introspect the token again (inactive)", "/oauth2/introspect", "access_token", false),
  {
    name: "8. The revoked token is refused on /invoke",
    method: "GET",
    path: "/invoke/pub.math/randomDouble",
    auth: bearer("{{access_token}}"),
    expect: [401],
  },
];

// ---- the admin API, from the document

/** The collection variable that holds a resource's id (server-made ids are captured on create). */
const idVariable = (op: AdminOperation) => `${op.resource.name}_${op.resource.id}`;

function adminRequest(document: OpenApiDocument, op: AdminOperation): Request {
  const documented = document.paths[op.path]![op.method.toLowerCase()]!;
  const content = (documented.requestBody as Schema | undefined)?.content as
    Record<string, { example?: unknown }> | undefined;
  const example = content?.["application/json"]?.example as Json | undefined;
  const r = op.resource;
  const tests: string[] = [];
  // Ids the server makes are captured from the answer of create.
  if (op.kind === "create" && r.id && example?.[r.id] === undefined)
    tests.push(capture(idVariable(op), `${json}.${r.id}`));
  // The singleton's write puts back what its read found: running the collection changes nothing.
  let raw: string | undefined;
  if (op.kind === "read")
    for (const field of Object.keys(r.examples?.update ?? {}))
      tests.push(capture(`${r.name}_${field}`, `JSON.stringify(${json}.${field})`));
  if (op.kind === "write")
    raw = `{${Object.keys(example ?? {})
      .map((field) => `"${field}": {{${r.name}_${field}}}`)
      .join(", ")}}`;
  // The tokens of the walk's client: list them, revoke the first.
  const query = op.query ? QUERIES[r.name] : undefined;
  if (r.name === "Token" && op.kind === "list") tests.push(capture(idVariable(op), `${json}[0].id`));
  return {
    name: `${documented.summary as string}`,
    method: op.method,
    path: op.path.replace(/\{\w+\}/, `{{${idVariable(op)}}}`),
    ...(query ? { query } : {}),
    ...(raw ? { raw } : example ? { json: example } : {}),
    expect: op.success,
    tests,
    description: `${documented.operationId as string}: calls ${op.useCase}.`,
  };
}

const QUERIES: Record<string, Record<string, string>> = {
  LogEntry: { lines: "20", event: "audit" },
  Token: { clientId: "{{clientId}}" },
};

/** Initial values of the id variables: the id in the example, or the table's example id. */
function idVariables(): Json[] {
  const seen = new Map<string, string>();
  for (const op of adminOperations())
    if (op.resource.id && !seen.has(idVariable(op)))
      seen.set(
        idVariable(op),
        String(op.resource.examples?.create?.[op.resource.id] ?? op.resource.exampleId ?? ""),
      );
  return [...seen].map(([key, value]) => ({ key, value, type: "string" }));
}

// ---- the OAuth endpoints, the console session, the clean-up

const OAUTH: Request[] = [
  {
    name: "Authorization server metadata (RFC 8414)",
    method: "GET",
    path: "/.well-known/oauth-authorization-server",
    auth: NO_AUTH,
    expect: [200],
    tests: [`pm.test("issuer", () => pm.expect(${json}.issuer).to.be.a("string"));`],
  },
  {
    name: "An initial access token for a registration",
    method: "POST",
    path: "/admin/api/oauth/initial-access-tokens",
    json: { expiresIn: 600 },
    expect: [201],
    tests: [capture("initialAccessToken", `${json}.token`)],
  },
  {
    name: "Register a client (RFC 7591)",
    method: "POST",
    path: "/oauth2/register",
    json: {
      client_name: "postman-registered",
      redirect_uris: [REDIRECT_URI],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_basic",
      scope: "postman_math",
    },
    auth: bearer("{{initialAccessToken}}"),
    expect: [201],
    tests: [
      capture("registeredClientId", `${json}.client_id`),
      capture("registrationAccessToken", `${json}.registration_access_token`),
    ],
  },
  {
    name: "Start an authorization (Basic credentials: the approval page)",
    method: "GET",
    path: "/oauth2/authorize",
    query: {
      response_type: "code",
      client_id: "{{registeredClientId}}",
      redirect_uri: REDIRECT_URI,
      state: "postman",
      code_challenge: CODE_CHALLENGE,
      code_challenge_method: "S256",
    },
    auth: basic("{{adminUser}}", "{{adminPassword}}"),
    expect: [200],
    tests: [`pm.test("the approval page", () => pm.expect(pm.response.text()).to.include("<form"));`],
  },
  {
    name: "Read the registration (RFC 7592)",
    method: "GET",
    path: "/oauth2/register/{{registeredClientId}}",
    auth: bearer("{{registrationAccessToken}}"),
    expect: [200],
  },
  {
    name: "Update the registration (RFC 7592)",
    method: "PUT",
    path: "/oauth2/register/{{registeredClientId}}",
    json: {
      client_id: "{{registeredClientId}}",
      client_name: "postman-registered",
      software_version: "2.0",
      redirect_uris: [REDIRECT_URI],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_basic",
      scope: "postman_math",
    },
    auth: bearer("{{registrationAccessToken}}"),
    expect: [200],
  },
  {
    name: "Delete the registration (RFC 7592)",
    method: "DELETE",
    path: "/oauth2/register/{{registeredClientId}}",
    auth: bearer("{{registrationAccessToken}}"),
    expect: [204],
  },
  tokenRequest(
    "pub.oauth:getToken (the Integration Server name of the token endpoint)",
    "/invoke/pub.oauth/getToken",
    "isAccessToken",
  ),
  introspection("pub.oauth:introspectToken", "/invoke/pub.oauth/introspectToken", "isAccessToken", true),
  revocation("pub.oauth:revokeToken", "/invoke/pub.oauth/revokeToken", "isAccessToken"),
  {
    name: "pub.oauth:removeExpiredAccessTokens (administrators)",
    method: "POST",
    path: "/invoke/pub.oauth/removeExpiredAccessTokens",
    expect: [200],
    tests: [`pm.test("a count", () => pm.expect(${json}.removed).to.be.a("number"));`],
  },
];

const CONSOLE: Request[] = [
  {
    name: "Sign in to the console (a session cookie)",
    method: "POST",
    path: "/admin/api/session",
    json: { username: "{{adminUser}}", password: "{{adminPassword}}" },
    auth: NO_AUTH,
    expect: [200],
    tests: [capture("csrfToken", `${json}.csrfToken`)],
  },
  {
    name: "The console session",
    method: "GET",
    path: "/admin/api/session",
    auth: NO_AUTH,
    expect: [200],
  },
  {
    name: "Statistics (with the session and its CSRF token)",
    method: "GET",
    path: "/admin/api/statistics",
    auth: NO_AUTH,
    headers: { "X-CSRF-Token": "{{csrfToken}}" },
    expect: [200],
  },
  {
    name: "Sign out",
    method: "DELETE",
    path: "/admin/api/session",
    auth: NO_AUTH,
    headers: { "X-CSRF-Token": "{{csrfToken}}" },
    expect: [204],
  },
  {
    name: "The OpenAPI document (no credentials)",
    method: "GET",
    path: "/admin/api/openapi.json",
    auth: NO_AUTH,
    expect: [200],
    tests: [`pm.test("OpenAPI 3.1", () => pm.expect(${json}.openapi).to.eql("3.1.0"));`],
  },
];

const CLEAN_UP: Request[] = [
  {
    name: "Delete the walk's client",
    method: "DELETE",
    path: "/admin/api/oauth/clients/{{clientId}}",
    expect: [204],
  },
  {
    name: "Delete the walk's scope",
    method: "DELETE",
    path: "/admin/api/oauth/scopes/postman_math",
    expect: [204],
  },
];

// ---- Postman's format

function item(request: Request): Json {
  const [, pathPart] = /^([^?]*)/.exec(request.path)!;
  const query = Object.entries(request.query ?? {}).map(([key, value]) => ({ key, value }));
  const queryText = query.length > 0 ? `?${query.map((q) => `${q.key}=${q.value}`).join("&")}` : "";
  const headers = [
    ...(request.json !== undefined || request.raw
      ? [{ key: "Content-Type", value: "application/json" }]
      : []),
    ...Object.entries(request.headers ?? {}).map(([key, value]) => ({ key, value })),
  ];
  const body =
    request.form !== undefined
      ? {
          mode: "urlencoded",
          urlencoded: Object.entries(request.form).map(([key, value]) => ({ key, value, type: "text" })),
        }
      : request.json !== undefined || request.raw
        ? {
            mode: "raw",
            raw: request.raw ?? JSON.stringify(request.json, null, 2),
            options: { raw: { language: "json" } },
          }
        : undefined;
  const expected = JSON.stringify(request.expect);
  return {
    name: request.name,
    event: [
      {
        listen: "test",
        script: {
          type: "text/javascript",
          exec: [
            `const expected = ${expected};`,
            `pm.test("answers " + expected.join(" or "), () => pm.expect(pm.response.code).to.be.oneOf(expected));`,
            ...(request.tests ?? []),
          ],
        },
      },
    ],
    // Answers are checked as they are: a redirect (to a client's redirect URI) is never followed.
    protocolProfileBehavior: { followRedirects: false },
    request: {
      method: request.method,
      header: headers,
      ...(request.auth ? { auth: request.auth } : {}),
      ...(body ? { body } : {}),
      url: {
        raw: `{{baseUrl}}${pathPart}${queryText}`,
        host: ["{{baseUrl}}"],
        path: pathPart!.split("/").filter(Boolean),
        ...(query.length > 0 ? { query } : {}),
      },
      ...(request.description ? { description: request.description } : {}),
    },
  };
}

const folder = (name: string, description: string, requests: Request[]): Json => ({
  name,
  description,
  item: requests.map(item),
});

/** The collection, from the document (and the table's run order and examples). */
export function postmanCollection(document: OpenApiDocument = openApiDocument()): Json {
  const operations = adminOperations();
  const tags = [...new Set(operations.map((op) => op.resource.tag))];
  return {
    info: {
      name: "Conduit",
      description:
        "Conduit's admin API and OAuth 2.0 endpoints, generated from its OpenAPI document (GET /admin/api/openapi.json) by `npm run postman`. Set baseUrl, adminUser and adminPassword in the environment, then run the folders in order: the first walks the article (create a scope and a client, get a token, call a service with it, introspect, revoke, introspect again); the others call every admin operation, each folder creating what it uses and deleting it.",
      schema: SCHEMA,
    },
    auth: basic("{{adminUser}}", "{{adminPassword}}"),
    variable: [
      ...["clientId", "clientSecret", "access_token", "initialAccessToken", "registeredClientId"].map(
        (key) => ({
          key,
          value: "",
          type: "string",
        }),
      ),
      ...["registrationAccessToken", "isAccessToken", "csrfToken"].map((key) => ({
        key,
        value: "",
        type: "string",
      })),
      ...idVariables(),
    ],
    item: [
      folder(
        "1. The article's walk",
        "Create scope, client, token; invoke; introspect; revoke; introspect again.",
        WALK,
      ),
      ...tags.map((tag) =>
        folder(
          `Admin API: ${tag}`,
          document.tags.find((t) => t.name === tag)?.description ?? "",
          operations.filter((op) => op.resource.tag === tag).map((op) => adminRequest(document, op)),
        ),
      ),
      folder(
        "OAuth 2.0 endpoints",
        "Metadata, registration (RFC 7591/7592), authorization, the Integration Server names.",
        OAUTH,
      ),
      folder(
        "Console session",
        "The console's session (a cookie and its CSRF token), its statistics, the document.",
        CONSOLE,
      ),
      folder("Clean up", "Deletes what the walk made.", CLEAN_UP),
    ],
  };
}

/** The environment: where Conduit is and who the administrator is (the password is left to fill in). */
export function postmanEnvironment(): Json {
  return {
    id: "5e0c6a7e-6c3b-4d0a-9d1f-c0dd017c0dd0",
    name: "Conduit (localhost)",
    values: [
      { key: "baseUrl", value: "http://localhost:5555", type: "default", enabled: true },
      { key: "adminUser", value: "Administrator", type: "default", enabled: true },
      { key: "adminPassword", value: "", type: "secret", enabled: true },
    ],
    _postman_variable_scope: "environment",
  };
}

export const POSTMAN_FILES = {
  collection: "docs/postman/conduit.postman_collection.json",
  environment: "docs/postman/conduit.postman_environment.json",
};

export const postmanText = (value: Json): string => `${JSON.stringify(value, null, 2)}\n`;

// `npm run postman` (tsx src/http/postman.ts) writes the two files.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(POSTMAN_FILES.collection, postmanText(postmanCollection()));
  writeFileSync(POSTMAN_FILES.environment, postmanText(postmanEnvironment()));
  console.log(`wrote ${POSTMAN_FILES.collection} and ${POSTMAN_FILES.environment}`);
}
