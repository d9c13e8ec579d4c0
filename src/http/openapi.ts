import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import type { Conduit } from "../conduit.js";
import { RFC_NAMES, TLS_AUTH_METHODS } from "../oauth/mtls.js";
import {
  adminOperations,
  adminSchemas,
  RESOURCES,
  type AdminOperation,
  type Schema,
} from "./admin-resources.js";

/**
 * The OpenAPI 3.1 document of Conduit's HTTP API, served at `GET /admin/api/openapi.json` without
 * credentials (it describes the API and holds no secret). The admin API part is derived from the table of
 * admin-resources.ts; the OAuth endpoints, /invoke and the console session are described here by hand.
 * test/http/openapi.test.ts validates it and compares its paths with the routes Fastify really has.
 */

export type OpenApiDocument = {
  openapi: "3.1.0";
  info: Schema;
  servers?: { url: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, Schema>>;
  components: {
    schemas: Record<string, Schema>;
    responses: Record<string, Schema>;
    securitySchemes: Record<string, Schema>;
  };
};

const VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema, example?: unknown): Schema => ({
  "application/json": { schema, ...(example === undefined ? {} : { example }) },
});
const form = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  required: true,
  content: {
    "application/x-www-form-urlencoded": {
      schema: { type: "object", properties, ...(required.length ? { required } : {}) },
    },
  },
});
const string = (description: string, extra: Schema = {}): Schema => ({
  type: "string",
  description,
  ...extra,
});
const response = (description: string, content?: Schema, headers?: Schema): Schema => ({
  description,
  ...(content ? { content } : {}),
  ...(headers ? { headers } : {}),
});
const html = (description: string): Schema =>
  response(description, { "text/html": { schema: { type: "string" } } });

/** Who may call what. */
const ADMIN = [{ userBasic: [] }, { consoleSession: [], csrfToken: [] }];
const CLIENT = [{ clientBasic: [] }, { clientCertificate: [] }, {}];
const NONE: Schema[] = [];

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "No content",
};
const ERROR_RESPONSES: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  422: "PackageInvalid",
};
const errors = (statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [String(s), { $ref: `#/components/responses/${ERROR_RESPONSES[s]}` }]),
  );

// ---- the admin API, from the table

function adminOperation(op: AdminOperation): Schema {
  const optionalBody = op.request && !(op.resource.name === "InitialAccessToken" || op.kind === "action");
  return {
    tags: [op.resource.tag],
    operationId: op.operationId,
    summary: op.summary,
    "x-use-case": op.useCase,
    security: ADMIN,
    ...(op.query
      ? {
          parameters: op.query.map((q) => ({
            name: q.name,
            in: "query",
            schema: q.schema,
            description: q.description,
          })),
        }
      : {}),
    ...(op.request ? { requestBody: { required: optionalBody, content: json(op.request, op.example) } } : {}),
    responses: {
      ...Object.fromEntries(
        op.success.map((s) => [
          String(s),
          response(STATUS_TEXT[s] ?? "OK", s === 204 || !op.response ? undefined : json(op.response)),
        ]),
      ),
      ...errors(op.errors),
    },
  };
}

function adminPaths(): Record<string, Record<string, Schema>> {
  const paths: Record<string, Record<string, Schema>> = {};
  for (const op of adminOperations()) {
    const path = (paths[op.path] ??= {});
    if (op.param)
      path.parameters = [
        { name: op.param.name, in: "path", required: true, schema: op.param.schema },
      ] as unknown as Schema;
    path[op.method.toLowerCase()] = adminOperation(op);
  }
  return paths;
}

// ---- the OAuth endpoints, /invoke and the console, by hand

const TOKEN_PARAMS: Record<string, Schema> = {
  grant_type: string("", { enum: ["authorization_code", "refresh_token", "client_credentials"] }),
  code: string("authorization_code: the code"),
  redirect_uri: string("authorization_code: the redirect URI of the authorization request"),
  code_verifier: string("authorization_code: the PKCE verifier (RFC 7636)"),
  refresh_token: string("refresh_token: the refresh token (rotated at every use)"),
  scope: string("space-separated scopes (narrower than the client's)"),
  resource: string(
    "RFC 8707 resource indicator (client_credentials, authorization_code): the `aud` of a JWT access token",
  ),
  client_id: string("client_secret_post, or a public client"),
  client_secret: string("client_secret_post"),
};
const TOKEN_HINT = {
  token: string("the token"),
  token_type_hint: string("a hint only", { enum: ["access_token", "refresh_token"] }),
};
const OAUTH_ERRORS = {
  "400": { $ref: "#/components/responses/OAuthBadRequest" },
  "401": { $ref: "#/components/responses/OAuthUnauthorized" },
  "405": { $ref: "#/components/responses/MethodNotAllowed" },
};
const AUTHORIZE_PARAMS = [
  ["response_type", "`code`", true],
  ["client_id", "the client", true],
  ["redirect_uri", "one of the client's redirect URIs (optional when it has one)", false],
  ["scope", "space-separated scopes", false],
  ["state", "returned unchanged", false],
  ["code_challenge", "PKCE S256 challenge (RFC 7636)", false],
  ["code_challenge_method", "`S256`", false],
].map(([name, description, required]) => ({
  name,
  in: "query",
  required,
  schema: { type: "string" },
  description,
}));

function oauthOperations(): Record<string, Record<string, Schema>> {
  const token: Schema = {
    tags: ["OAuth 2.0"],
    operationId: "token",
    summary: "Token endpoint (RFC 6749 §3.2): authorization_code, refresh_token, client_credentials",
    description:
      "Clients authenticate with client_secret_basic (Authorization: Basic base64(client_id:client_secret)), client_secret_post, or none (public clients).",
    security: CLIENT,
    requestBody: form(TOKEN_PARAMS, ["grant_type"]),
    responses: { "200": response("RFC 6749 §5.1", json(ref("TokenResponse"))), ...OAUTH_ERRORS },
  };
  const introspect: Schema = {
    tags: ["OAuth 2.0"],
    operationId: "introspect",
    summary: "Token introspection (RFC 7662), for confidential clients",
    security: [{ clientBasic: [] }, { clientCertificate: [] }],
    requestBody: form(
      { ...TOKEN_HINT, client_id: TOKEN_PARAMS.client_id!, client_secret: TOKEN_PARAMS.client_secret! },
      ["token"],
    ),
    responses: { "200": response("always 200; `active` tells", json(ref("Introspection"))), ...OAUTH_ERRORS },
  };
  const revoke: Schema = {
    tags: ["OAuth 2.0"],
    operationId: "revoke",
    summary: "Token revocation (RFC 7009); a refresh token takes its whole grant with it",
    security: CLIENT,
    requestBody: form(
      { ...TOKEN_HINT, client_id: TOKEN_PARAMS.client_id!, client_secret: TOKEN_PARAMS.client_secret! },
      ["token"],
    ),
    responses: { "200": response("revoked (or unknown: RFC 7009 §2.2)"), ...OAUTH_ERRORS },
  };
  const authorizeResponses = {
    "200": html("the login page, or (with Basic credentials) the approval page with one checkbox per scope"),
    "302": response("to the redirect URI with `code`, `state` and `iss` (RFC 9207), or `error`"),
    "303": response("after the approval form: to the redirect URI"),
    "400": html("a request that cannot be redirected (unknown client, bad redirect URI)"),
    "401": html("wrong Basic credentials: the login page again"),
    "405": { $ref: "#/components/responses/MethodNotAllowed" },
  };
  const authorize = (method: "get" | "post"): Schema => ({
    tags: ["OAuth 2.0"],
    operationId: `authorize${method === "get" ? "" : "Form"}`,
    summary:
      method === "get"
        ? "Authorization endpoint (RFC 6749 §4.1, PKCE): starts an authorization"
        : "The login and approval forms of the authorization endpoint",
    security: [{}, { userBasic: [] }],
    ...(method === "get"
      ? { parameters: AUTHORIZE_PARAMS }
      : {
          requestBody: form({
            ticket: string("from the page"),
            csrf_token: string("from the page"),
            username: string("the login form"),
            password: string("the login form"),
            decision: string("the approval form", { enum: ["approve", "deny"] }),
            scope: { type: "array", items: { type: "string" }, description: "the approved scopes" },
          }),
        }),
    responses: authorizeResponses,
  });
  const register: Schema = {
    tags: ["OAuth 2.0"],
    operationId: "register",
    summary: "Dynamic client registration (RFC 7591), with an initial access token",
    security: [{ initialAccessToken: [] }],
    requestBody: { required: true, content: json(ref("ClientMetadata")) },
    responses: {
      "201": response("the client information (RFC 7591 §3.2.1)", json(ref("ClientInformation"))),
      ...OAUTH_ERRORS,
    },
  };
  const management = (method: string): Schema => ({
    tags: ["OAuth 2.0"],
    operationId: `${method}Registration`,
    summary: `RFC 7592 §2.${{ get: 1, put: 2, delete: 3 }[method]}: ${method === "get" ? "read" : method === "put" ? "update" : "delete"} a registration`,
    security: [{ registrationAccessToken: [] }],
    ...(method === "put" ? { requestBody: { required: true, content: json(ref("ClientMetadata")) } } : {}),
    responses: {
      ...(method === "delete"
        ? { "204": response("deleted") }
        : { "200": response("the client information", json(ref("ClientInformation"))) }),
      ...OAUTH_ERRORS,
    },
  });
  const metadata: Schema = {
    tags: ["OAuth 2.0"],
    operationId: "metadata",
    summary: "Authorization server metadata (RFC 8414)",
    security: NONE,
    responses: {
      "200": response("the metadata; issuer = CONDUIT_PUBLIC_URL", json(ref("ServerMetadata"))),
      ...OAUTH_ERRORS,
    },
  };
  const jwks: Schema = {
    tags: ["OAuth 2.0"],
    operationId: "jwks",
    summary: "The public keys of JWT access tokens (RFC 7517 §5, RFC 9068): the current and previous ones",
    security: NONE,
    responses: {
      "200": response(
        "a JWK Set",
        json({
          type: "object",
          required: ["keys"],
          properties: { keys: { type: "array", items: { type: "object" } } },
        }),
      ),
      "405": { $ref: "#/components/responses/MethodNotAllowed" },
    },
  };
  const invoke = (method: "get" | "post"): Schema => ({
    tags: ["Invoke"],
    operationId: `invoke${method === "get" ? "" : "Post"}`,
    summary: "Run a service (also spelled /invoke/{folder}:{service})",
    description:
      "Inputs come from the query and from a JSON or form body (the body wins); the answer is the output pipeline. Bearer failures follow RFC 6750 §3.",
    security: [{ bearer: [] }, { userBasic: [] }, { consoleSession: [], csrfToken: [] }, {}],
    parameters: [
      { name: "folder", in: "path", required: true, schema: { type: "string" }, example: "pub.math" },
      { name: "service", in: "path", required: true, schema: { type: "string" }, example: "randomDouble" },
    ],
    ...(method === "post"
      ? {
          requestBody: {
            content: {
              ...json({ type: "object" }),
              "application/x-www-form-urlencoded": { schema: { type: "object" } },
            },
          },
        }
      : {}),
    responses: {
      "200": response("the output pipeline", json({ type: "object" }, { number: 0.6120443479954003 })),
      "400": { $ref: "#/components/responses/BadRequest" },
      "401": { $ref: "#/components/responses/Unauthorized" },
      "403": { $ref: "#/components/responses/Forbidden" },
      "404": { $ref: "#/components/responses/NotFound" },
      "405": { $ref: "#/components/responses/MethodNotAllowed" },
      "500": response("the service failed (`service_failure`)", json(ref("Error"))),
      "503": response("a server Conduit depends on is unreachable", json(ref("Error"))),
    },
  });
  /** The Integration Server names of the same handlers: JSON bodies too, query and body read together. */
  const isName = (operation: Schema, name: string): Schema => ({
    ...operation,
    tags: ["OAuth 2.0 (Integration Server names)"],
    operationId: `is${name[0]!.toUpperCase()}${name.slice(1)}`,
    summary: `${operation.summary as string} — the Integration Server name pub.oauth:${name}`,
    ...(operation.requestBody
      ? {
          requestBody: {
            ...(operation.requestBody as Schema),
            content: {
              ...((operation.requestBody as Schema).content as Schema),
              "application/json": { schema: { type: "object", additionalProperties: { type: "string" } } },
            },
          },
        }
      : {}),
  });
  const removeExpired = (method: string): Schema => ({
    tags: ["OAuth 2.0 (Integration Server names)"],
    operationId: `isRemoveExpiredAccessTokens${method === "get" ? "" : "Post"}`,
    summary: "pub.oauth:removeExpiredAccessTokens: delete expired tokens (administrators)",
    security: [{ userBasic: [] }, { consoleSession: [], csrfToken: [] }],
    responses: {
      "200": response(
        "how many were removed",
        json({
          type: "object",
          properties: {
            removed: { type: "integer" },
            codes: { type: "integer" },
            initialAccessTokens: { type: "integer" },
          },
        }),
      ),
      "401": { $ref: "#/components/responses/Unauthorized" },
      "403": { $ref: "#/components/responses/Forbidden" },
    },
  });
  return {
    "/.well-known/oauth-authorization-server": { get: metadata },
    "/oauth2/jwks": { get: jwks },
    "/oauth2/authorize": { get: authorize("get"), post: authorize("post") },
    "/oauth2/token": { post: token },
    "/oauth2/introspect": { post: introspect },
    "/oauth2/revoke": { post: revoke },
    "/oauth2/register": { post: register },
    "/oauth2/register/{client_id}": {
      parameters: [
        { name: "client_id", in: "path", required: true, schema: { type: "string" } },
      ] as unknown as Schema,
      get: management("get"),
      put: management("put"),
      delete: management("delete"),
    },
    "/invoke/pub.oauth/authorize": {
      get: isName(authorize("get"), "authorize"),
      post: { ...isName(authorize("post"), "authorize"), operationId: "isAuthorizeForm" },
    },
    "/invoke/pub.oauth/getToken": { post: isName(token, "getToken") },
    "/invoke/pub.oauth/introspectToken": { post: isName(introspect, "introspectToken") },
    "/invoke/pub.oauth/revokeToken": { post: isName(revoke, "revokeToken") },
    "/invoke/pub.oauth/removeExpiredAccessTokens": { get: removeExpired("get"), post: removeExpired("post") },
    "/invoke/{folder}/{service}": { get: invoke("get"), post: invoke("post") },
  };
}

function consoleOperations(): Record<string, Record<string, Schema>> {
  const session = json(ref("Session"));
  return {
    "/admin/api/session": {
      post: {
        tags: ["Console"],
        operationId: "signIn",
        summary: "Sign in to the console: sets the conduit_session cookie (users of Administrators)",
        security: NONE,
        requestBody: {
          required: true,
          content: json({
            type: "object",
            required: ["username", "password"],
            properties: {
              username: { type: "string", maxLength: 1024 },
              password: { type: "string", maxLength: 1024, writeOnly: true },
            },
          }),
        },
        responses: {
          "200": response("signed in", session, {
            "Set-Cookie": {
              schema: { type: "string" },
              description: "conduit_session (HttpOnly, SameSite=Strict)",
            },
          }),
          ...errors([400]),
          "401": response("wrong username or password (`invalid_credentials`)", json(ref("Error"))),
          ...errors([403]),
        },
      },
      get: {
        tags: ["Console"],
        operationId: "getSession",
        summary: "The live session of this browser (and its CSRF token)",
        security: [{ consoleSession: [] }],
        responses: {
          "200": response("the session", session),
          "401": response("no session (`no_session`)", json(ref("Error"))),
        },
      },
      delete: {
        tags: ["Console"],
        operationId: "signOut",
        summary: "Sign out: the session ends on the server",
        security: [{ consoleSession: [], csrfToken: [] }],
        responses: {
          "204": response("signed out"),
          "401": response("no session (`no_session`)", json(ref("Error"))),
          "403": response("without the session's X-CSRF-Token (`csrf_failed`)", json(ref("Error"))),
        },
      },
    },
    "/admin/api/statistics": {
      get: {
        tags: ["Console"],
        operationId: "getStatistics",
        summary: "What /metrics counts, as JSON, with a 15-minute history of 10-second intervals",
        security: ADMIN,
        responses: { "200": response("the statistics", json(ref("Statistics"))), ...errors([401, 403]) },
      },
    },
    "/admin/api/openapi.json": {
      get: {
        tags: ["Document"],
        operationId: "getOpenApiDocument",
        summary: "This document (no credentials: it holds no secret)",
        security: NONE,
        responses: { "200": response("the OpenAPI 3.1 document", json({ type: "object" })) },
      },
    },
  };
}

// ---- components written by hand

const STR = { type: "string" };
const INT = { type: "integer" };
const stringList = { type: "array", items: STR };
/** RFC 8705 §2.1.2, §2.2.2, §3.4 client metadata. */
const MTLS_METADATA: Record<string, Schema> = {
  ...Object.fromEntries(
    Object.values(RFC_NAMES).map((name) => [
      name,
      string("tls_client_auth: the one subject DN or SAN to match"),
    ]),
  ),
  jwks: { type: "object", description: "self_signed_tls_client_auth: the certificates, as a JWKS with x5c" },
  tls_client_certificate_bound_access_tokens: { type: "boolean" },
};
const HAND_SCHEMAS: Record<string, Schema> = {
  Error: {
    type: "object",
    description:
      "Every error outside the OAuth endpoints: a stable code and a human message, sometimes the field at fault.",
    required: ["error", "message"],
    properties: {
      error: string("a stable machine-readable code"),
      message: string("for people"),
      field: string("the field at fault"),
      fields: { ...stringList, description: "unknown fields" },
      unknown: { description: "names that do not exist" },
    },
  },
  OAuthError: {
    type: "object",
    description: "RFC 6749 §5.2, with Cache-Control: no-store.",
    required: ["error"],
    properties: {
      error: string("RFC 6749 §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2"),
      error_description: string("for people"),
    },
  },
  TokenResponse: {
    type: "object",
    required: ["access_token", "token_type", "scope"],
    properties: {
      access_token: string("the bearer token"),
      token_type: { type: "string", const: "Bearer" },
      expires_in: { type: "integer", description: "seconds; absent when the token never expires" },
      refresh_token: string("when the client is allowed refresh_token"),
      scope: string("the granted scopes"),
    },
  },
  Introspection: {
    type: "object",
    required: ["active"],
    properties: {
      active: { type: "boolean" },
      scope: STR,
      client_id: STR,
      username: STR,
      sub: STR,
      token_type: STR,
      exp: INT,
      iat: INT,
      iss: STR,
      jti: STR,
    },
  },
  ServerMetadata: {
    type: "object",
    required: ["issuer", "token_endpoint", "response_types_supported"],
    properties: Object.fromEntries(
      [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
        "registration_endpoint",
        "jwks_uri",
      ]
        .map((name) => [name, { type: "string", format: "uri" }] as [string, Schema])
        .concat(
          [
            "scopes_supported",
            "response_types_supported",
            "response_modes_supported",
            "grant_types_supported",
            "token_endpoint_auth_methods_supported",
            "introspection_endpoint_auth_methods_supported",
            "revocation_endpoint_auth_methods_supported",
            "code_challenge_methods_supported",
          ].map((name) => [name, stringList]),
        )
        .concat([
          ["authorization_response_iss_parameter_supported", { type: "boolean" }],
          [
            "tls_client_certificate_bound_access_tokens",
            { type: "boolean", description: "RFC 8705 §3.3, with mutual TLS on" },
          ],
        ]),
    ),
  },
  ClientMetadata: {
    type: "object",
    description:
      "RFC 7591 §2 (fields Conduit does not know are ignored). PUT (RFC 7592) also carries client_id.",
    properties: {
      client_id: string("RFC 7592 updates only: the registered client's"),
      client_secret: string("RFC 7592 updates: optional, must match"),
      redirect_uris: stringList,
      grant_types: {
        type: "array",
        items: { type: "string", enum: ["authorization_code", "refresh_token", "client_credentials"] },
        description:
          "within the initial access token's policy (client_credentials only when it names a run-as user); default: authorization_code",
      },
      response_types: { type: "array", items: { type: "string", const: "code" } },
      token_endpoint_auth_method: {
        type: "string",
        enum: ["client_secret_basic", "client_secret_post", "none", ...TLS_AUTH_METHODS],
        description: "the RFC 8705 methods when the HTTPS listener asks for client certificates",
      },
      ...MTLS_METADATA,
      client_name: { type: "string", maxLength: 1024 },
      software_version: { type: "string", maxLength: 1024 },
      scope: string(
        "space-separated scopes that exist, within the initial access token's policy; default: the policy's scopes",
      ),
    },
  },
  ClientInformation: {
    type: "object",
    required: [
      "client_id",
      "client_id_issued_at",
      "redirect_uris",
      "grant_types",
      "token_endpoint_auth_method",
      "registration_client_uri",
    ],
    properties: {
      client_id: STR,
      client_id_issued_at: INT,
      client_secret: string("confidential clients, on registration only"),
      client_secret_expires_at: { type: "integer", const: 0 },
      registration_access_token: string(
        "on registration only: the Bearer value for /oauth2/register/{client_id}",
      ),
      registration_client_uri: { type: "string", format: "uri" },
      client_name: STR,
      software_version: STR,
      redirect_uris: stringList,
      grant_types: stringList,
      response_types: stringList,
      token_endpoint_auth_method: STR,
      scope: STR,
      ...MTLS_METADATA,
    },
  },
  Session: {
    type: "object",
    required: ["username", "groups", "csrfToken", "idleTimeoutSeconds", "expiresAt"],
    additionalProperties: false,
    properties: {
      username: STR,
      groups: stringList,
      csrfToken: string("send it in X-CSRF-Token with every request of the session"),
      idleTimeoutSeconds: INT,
      expiresAt: { type: "string", format: "date-time" },
    },
  },
  Statistics: {
    type: "object",
    required: ["startedAt", "uptimeSeconds", "requests", "introspection", "history"],
    additionalProperties: false,
    properties: {
      startedAt: { type: "string", format: "date-time" },
      uptimeSeconds: { type: "number" },
      requests: {
        type: "object",
        required: ["total", "byStatus"],
        properties: {
          total: INT,
          byStatus: { type: "object", additionalProperties: INT },
        },
      },
      introspection: {
        type: "object",
        required: ["calls", "failures", "cacheHits", "cacheMisses"],
        properties: {
          calls: INT,
          failures: INT,
          cacheHits: INT,
          cacheMisses: INT,
        },
      },
      history: {
        type: "array",
        description: "oldest first, one entry per 10-second interval",
        items: {
          type: "object",
          required: ["at", "requests", "introspectionCalls"],
          properties: {
            at: { type: "string", format: "date-time" },
            requests: INT,
            introspectionCalls: INT,
          },
        },
      },
    },
  },
};

const errorBody = (description: string, headers?: Schema) =>
  response(description, json(ref("Error")), headers);
const challenge = (text: string) => ({
  "WWW-Authenticate": { schema: { type: "string" }, description: text },
});
const RESPONSES: Record<string, Schema> = {
  BadRequest: errorBody(
    "bad input: a body or query the use-case refuses, naming the `field` (`invalid_field`, `unknown_field`, …)",
  ),
  Unauthorized: errorBody("no or bad credentials", challenge("Basic (and Bearer on /invoke)")),
  Forbidden: errorBody(
    "not allowed: the admin API is for users in Administrators, and never takes bearer tokens",
  ),
  NotFound: errorBody("no such item (`<resource>_not_found`)"),
  Conflict: errorBody("a name that exists already, an item in use, or a write that lost a race"),
  PackageInvalid: errorBody(
    "the package has problems (`package_invalid`, with `package`); its last good version keeps serving",
  ),
  OAuthBadRequest: response("RFC 6749 §5.2 error", json(ref("OAuthError"))),
  OAuthUnauthorized: response(
    "client authentication failed (`invalid_client`) or a bad token",
    json(ref("OAuthError")),
    challenge("Basic or Bearer"),
  ),
  MethodNotAllowed: response("another method (`method_not_allowed`)", json({ type: "object" }), {
    Allow: { schema: { type: "string" }, description: "the methods the endpoint takes" },
  }),
};

const SECURITY_SCHEMES: Record<string, Schema> = {
  clientCertificate: {
    type: "mutualTLS",
    description:
      "RFC 8705: a client certificate over the HTTPS listener (tls_client_auth, self_signed_tls_client_auth)",
  },
  userBasic: {
    type: "http",
    scheme: "basic",
    description: "a Conduit user; the admin API needs a user in Administrators",
  },
  clientBasic: {
    type: "http",
    scheme: "basic",
    description: "an OAuth client: client_id and client_secret (client_secret_basic)",
  },
  bearer: {
    type: "http",
    scheme: "bearer",
    description: "an access token of Conduit or of the selected external authorization server (RFC 6750)",
  },
  initialAccessToken: {
    type: "http",
    scheme: "bearer",
    description: "an initial access token (POST /admin/api/oauth/initial-access-tokens)",
  },
  registrationAccessToken: {
    type: "http",
    scheme: "bearer",
    description: "the registration access token given at registration (RFC 7592)",
  },
  consoleSession: {
    type: "apiKey",
    in: "cookie",
    name: "conduit_session",
    description: "the console session (POST /admin/api/session)",
  },
  csrfToken: {
    type: "apiKey",
    in: "header",
    name: "X-CSRF-Token",
    description: "the session's CSRF token, needed with the cookie",
  },
};

/** The document; `serverUrl` (CONDUIT_PUBLIC_URL when served) goes into `servers`. */
export function openApiDocument(options: { serverUrl?: string } = {}): OpenApiDocument {
  return {
    openapi: "3.1.0",
    info: {
      title: "Conduit",
      version: VERSION,
      description:
        "The admin API (JSON, camelCase, for users in Administrators: HTTP Basic or the console session; every write audited), the OAuth 2.0 authorization server and /invoke. Admin API fields marked readOnly are made by the server, writeOnly ones (passwords, secrets, keys) are never returned. This document needs no credentials: it holds no secret.",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    tags: [
      {
        name: "OAuth 2.0",
        description:
          "RFC 6749, 7636, 7662, 7009, 8414, 7591/7592, 9207: form bodies, RFC 6749 §5.2 error JSON",
      },
      {
        name: "OAuth 2.0 (Integration Server names)",
        description: "the same handlers under /invoke/pub.oauth/… (also /invoke/pub.oauth::…)",
      },
      { name: "Invoke", description: "services over HTTP" },
      ...RESOURCES.map((r) => ({ name: r.tag, description: r.description })),
      { name: "Console", description: "the admin console's session and statistics" },
      { name: "Document", description: "this document" },
    ],
    paths: { ...oauthOperations(), ...adminPaths(), ...consoleOperations() },
    components: {
      schemas: { ...adminSchemas(), ...HAND_SCHEMAS },
      responses: RESPONSES,
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}

/** `GET /admin/api/openapi.json`, open to anyone: the document holds no secret. */
export async function openApiRoutes(app: FastifyInstance, { conduit }: { conduit: Conduit }): Promise<void> {
  const document = JSON.stringify(openApiDocument({ serverUrl: conduit.config.publicUrl }));
  app.get("/admin/api/openapi.json", async (_request, reply) =>
    reply.header("cache-control", "no-cache").type("application/json; charset=utf-8").send(document),
  );
}

/** Routes as Fastify registered them (method, url), recorded from the start so tests can compare. */
const recorded = new WeakMap<FastifyInstance, { method: string; url: string }[]>();

/** Records every route registered after this call, in any plugin (an onRoute hook on the root). */
export function recordRoutes(app: FastifyInstance): void {
  const routes: { method: string; url: string }[] = [];
  recorded.set(app, routes);
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
}

export function registeredRoutes(app: FastifyInstance): { method: string; url: string }[] {
  return [...(recorded.get(app) ?? [])];
}
