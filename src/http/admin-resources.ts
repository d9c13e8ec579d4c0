import type { Actor } from "../admin/audit.js";
import type { ExternalServersAdmin } from "../admin/external-servers.js";
import { GLOBAL_NAME, type GlobalVariablesAdmin } from "../admin/global-variables.js";
import { NAME } from "../admin/input.js";
import { tailLog } from "../admin/log-reader.js";
import type { PackagesAdmin } from "../admin/packages-admin.js";
import type { SecurityAdmin } from "../admin/security-admin.js";
import type { ServicesAdmin } from "../admin/services-admin.js";
import type { Conduit } from "../conduit.js";
import { PACKAGE_NAME } from "../flow/manifest.js";
import { flowModule } from "../flow/module.js";
import { flowSchema } from "../flow/parser.js";
import { BadRequestError, ConfigurationError } from "../kernel/errors.js";
import { logFile } from "../kernel/logger.js";
import { GRANT_TYPES } from "../oauth/clients.js";
import { ADMIN_NAMES, TLS_AUTH_METHODS } from "../oauth/mtls.js";
import { oauthOf, type OAuthAdmin } from "../oauth/module.js";
import { externalServersOf } from "../resource/external/module.js";

/**
 * The admin API as data: each resource once, with its path, identifier, the JSON Schema of its fields
 * (`readOnly` for what the server makes, `writeOnly` for secrets) and the use-cases of src/admin/ it calls.
 * The Fastify routes (admin-api.ts), the OpenAPI document (openapi.ts) and the Postman collection
 * (postman.ts) are all derived from it. Validation stays in the use-cases (400 naming the `field`, shared
 * with the CLI and the console); these schemas document it, and test/http/openapi.test.ts holds them to it.
 */

/** A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1). */
export type Schema = { [keyword: string]: unknown };

/** The use-cases the admin API calls, one object per area of src/admin/. */
export interface UseCases {
  security: SecurityAdmin;
  services: ServicesAdmin;
  oauth: OAuthAdmin;
  externalServers: ExternalServersAdmin;
  packages: PackagesAdmin;
  globals: GlobalVariablesAdmin;
  log: LogAdmin;
}

/** What a route hands its use-case: the audited actor (from guardAdminRoutes), the path id, body, query. */
export interface Call {
  actor: Actor;
  id: string;
  body: unknown;
  query: Record<string, unknown>;
}

/** The standard operations, their use-case arguments and HTTP shape. */
interface KindArgs {
  list: [query: Record<string, unknown>];
  create: [actor: Actor, body: unknown];
  get: [id: string];
  update: [actor: Actor, id: string, body: unknown];
  /** Create or replace: the use-case answers `{created, <the resource>}`. */
  upsert: [actor: Actor, id: string, body: unknown];
  delete: [actor: Actor, id: string];
  /** A singleton (settings): read it, change it. */
  read: [];
  write: [actor: Actor, body: unknown];
}
export type Kind = keyof KindArgs;
export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

const KINDS: {
  [K in Kind]: {
    method: HttpMethod;
    item: boolean;
    success: number[];
    verb: string;
    args: (c: Call) => KindArgs[K];
  };
} = {
  list: { method: "GET", item: false, success: [200], verb: "list", args: (c) => [c.query] },
  create: { method: "POST", item: false, success: [201], verb: "create", args: (c) => [c.actor, c.body] },
  get: { method: "GET", item: true, success: [200], verb: "get", args: (c) => [c.id] },
  update: { method: "PUT", item: true, success: [200], verb: "update", args: (c) => [c.actor, c.id, c.body] },
  upsert: {
    method: "PUT",
    item: true,
    success: [200, 201],
    verb: "put",
    args: (c) => [c.actor, c.id, c.body],
  },
  delete: { method: "DELETE", item: true, success: [204], verb: "delete", args: (c) => [c.actor, c.id] },
  read: { method: "GET", item: false, success: [200], verb: "get", args: () => [] },
  write: { method: "PUT", item: false, success: [200], verb: "update", args: (c) => [c.actor, c.body] },
};
/** The order operations are listed in (and run in, in the Postman collection). */
export const KIND_ORDER: Kind[] = ["create", "upsert", "list", "get", "read", "write", "update", "delete"];

/** Names of T's methods that take the arguments A. */
type MethodsOf<T, A extends unknown[]> = {
  [K in keyof T]: T[K] extends (...args: A) => unknown ? K : never;
}[keyof T] &
  string;

export interface QueryParameter {
  name: string;
  schema: Schema;
  description: string;
}

/** What the document says of an operation. */
interface Described {
  method: HttpMethod;
  operationId: string;
  summary: string;
  /** The use-case of src/admin/ it calls (`x-use-case` in the document). */
  useCase: string;
  success: number[];
  errors: number[];
  request?: Schema;
  response?: Schema;
  example?: Record<string, unknown>;
}

/** An operation beyond the standard ones: POST /clients/{id}/secret, PUT /services/{name}/acl, … */
export interface Action extends Described {
  /** Appended to the item path (`item`) or to the collection path. */
  path: string;
  item: boolean;
  run: (u: UseCases, call: Call) => unknown;
}

export interface Resource<T = unknown> {
  /** OpenAPI tag and Postman folder. */
  tag: string;
  /** Singular, for operation ids and component names: `User` → listUsers, createUser, `UserCreate`. */
  name: string;
  plural?: string;
  /** Below /admin/api. */
  path: string;
  /** The path parameter that names one item. */
  id?: string;
  idSchema?: Schema;
  description: string;
  /** The use-case object of src/admin/ the resource calls, and its class (`x-use-case` in the document). */
  target: UseCase<T>;
  /** Which standard operations the resource has, and the use-case method each calls. */
  calls: { [K in Kind]?: MethodsOf<T, KindArgs[K]> };
  fields: Record<string, Schema>;
  createRequired?: string[];
  updateRequired?: string[];
  /** Readable fields that not every answer has. */
  sometimes?: string[];
  /** Readable only in the answer of create (a generated secret, shown this once). */
  once?: Record<string, Schema>;
  /** Fields that no answer may ever hold (the document and a test check it). */
  secrets?: string[];
  /** Replaces a derived schema where the answer has another shape. */
  answers?: { list?: Schema; item?: Schema; create?: Schema };
  /** Query parameters of list (their checks live in the use-case). */
  query?: QueryParameter[];
  actions?: Action[];
  /** Valid bodies, for the document, the Postman collection and the tests. */
  examples?: {
    create?: Record<string, unknown>;
    update?: Record<string, unknown>;
    secret?: Record<string, unknown>;
  };
  /** The id used in examples, when the example body does not carry it. */
  exampleId?: string;
  /** Summaries that say more than the derived one ("Create a user"). */
  summaries?: { [K in Kind]?: string };
}

const defineResource = <T>(resource: Resource<T>): Resource => resource as Resource;

/** How to find a use-case object among the use-cases, named by its class for the document. */
type UseCase<T> = ((u: UseCases) => T) & { useCase: string };
const use = <T>(useCase: string, target: (u: UseCases) => T): UseCase<T> =>
  Object.assign(target, { useCase });

// ---- field schemas

const text = (maxLength: number, extra: Schema = {}): Schema => ({ type: "string", maxLength, ...extra });
/** A required string: `requiredStr` refuses blank ones. */
const filled = (maxLength: number, extra: Schema = {}): Schema =>
  text(maxLength, { minLength: 1, pattern: "\\S", ...extra });
/** `strList`: unique non-empty strings of at most 1024 characters (duplicates are dropped). */
const list = (extra: Schema = {}, item: Schema = {}): Schema => ({
  type: "array",
  items: { type: "string", minLength: 1, maxLength: 1024, ...item },
  maxItems: 1000,
  ...extra,
});
const integer = (minimum: number, maximum: number, extra: Schema = {}): Schema => ({
  type: "integer",
  minimum,
  maximum,
  ...extra,
});
const flag = (description: string): Schema => ({ type: "boolean", description });
const nullable = (schema: Schema): Schema => ({ ...schema, type: [schema.type, "null"] });
const readOnly = (schema: Schema): Schema => ({ ...schema, readOnly: true });
const timestamp = readOnly({ type: "string", format: "date-time" });
const objects = (description: string): Schema => ({ type: "array", items: { type: "object" }, description });
/** Made by the server: a string, a list of strings. */
const shown = (description?: string, extra: Schema = {}): Schema =>
  readOnly({ type: "string", ...(description ? { description } : {}), ...extra });
const names = (description?: string): Schema =>
  readOnly({ type: "array", items: { type: "string" }, ...(description ? { description } : {}) });
const maybe = (description?: string, extra: Schema = {}): Schema =>
  readOnly({ type: ["string", "null"], ...(description ? { description } : {}), ...extra });
const NAME_PATTERN = NAME.source;
/** RFC 6749 §3.3 scope-token characters (src/admin/oauth-scopes.ts). */
const SCOPE_NAME = "^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$";
const SERVICE_NAME = "^[A-Za-z_][\\w-]*(\\.[A-Za-z_][\\w-]*)*:[A-Za-z_][\\w-]*$";
const DAY = 86_400;
const PEM = (description: string): Schema => nullable(text(256 * 1024, { description }));
const URL_FIELD = (description: string): Schema => nullable(text(2048, { format: "uri", description }));

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** GET /admin/api/log: the newest records of the server log, filtered by level and event. */
export class LogAdmin {
  constructor(private readonly file: string) {}

  async tail(query: Record<string, unknown>): Promise<{ entries: unknown[] }> {
    const { lines = "200", level, event } = query;
    const count = Number(lines);
    if (!Number.isInteger(count) || count < 1 || count > 5000)
      throw new BadRequestError("invalid_query", "lines must be an integer from 1 to 5000", {
        field: "lines",
      });
    if (level !== undefined && (typeof level !== "string" || !Object.hasOwn(LEVELS, level)))
      throw new BadRequestError("invalid_query", `level must be one of ${Object.keys(LEVELS).join(", ")}`, {
        field: "level",
      });
    if (event !== undefined && typeof event !== "string")
      throw new BadRequestError("invalid_query", "event must be given once", { field: "event" });
    const filter = { ...(level ? { level: LEVELS[level as string]! } : {}), ...(event ? { event } : {}) };
    return { entries: await tailLog(this.file, count, filter) };
  }
}

/** The use-cases of a Conduit whose subsystems are installed. */
export function useCasesOf(conduit: Conduit): UseCases {
  const external = externalServersOf(conduit);
  if (!external) throw new ConfigurationError("installExternalServers has not run on this Conduit");
  const { packages, globals } = flowModule(conduit).admin;
  return {
    ...conduit.admin,
    oauth: oauthOf(conduit).admin,
    externalServers: external.admin,
    packages,
    globals,
    log: new LogAdmin(logFile(conduit.config.dataDir)),
  };
}

// ---- the table

const object = (properties: Record<string, Schema>, required: string[], description?: string): Schema => ({
  type: "object",
  ...(description ? { description } : {}),
  properties,
  ...(required.length > 0 ? { required } : {}),
  additionalProperties: false,
});

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

export const RESOURCES: Resource[] = [
  defineResource({
    tag: "Users",
    name: "User",
    path: "/users",
    id: "username",
    description:
      "Users of Conduit. Every user is in Everybody; passwords are write-only (stored as scrypt hashes).",
    target: use("SecurityAdmin", (u) => u.security),
    calls: {
      list: "listUsers",
      create: "createUser",
      get: "getUser",
      update: "updateUser",
      delete: "deleteUser",
    },
    fields: {
      username: text(255, {
        minLength: 1,
        pattern: NAME_PATTERN,
        description: "no colon, no control characters; cannot be changed",
      }),
      password: filled(1024, {
        minLength: 8,
        writeOnly: true,
        description: "at least 8 characters; never returned",
      }),
      groups: list({ description: "groups that exist; Everybody is implied (and always listed in answers)" }),
      createdAt: timestamp,
      updatedAt: timestamp,
    },
    createRequired: ["username", "password"],
    secrets: ["password"],
    examples: {
      create: { username: "postman-alice", password: "a-long-password", groups: [] },
      update: { password: "another-long-password" },
    },
  }),
  defineResource({
    tag: "Groups",
    name: "Group",
    path: "/groups",
    id: "name",
    description: "Groups of users. Administrators and Everybody are built in; Anonymous is reserved.",
    target: use("SecurityAdmin", (u) => u.security),
    calls: {
      list: "listGroups",
      create: "createGroup",
      get: "getGroup",
      update: "updateGroup",
      delete: "deleteGroup",
    },
    summaries: { update: "Update a group (its description is replaced)", get: "Get a group and its members" },
    fields: {
      name: text(255, {
        minLength: 1,
        pattern: NAME_PATTERN,
        description: "not Anonymous; cannot be changed",
      }),
      description: text(4096, { description: "an update replaces it (empty when not given)" }),
      builtin: readOnly(flag("Administrators and Everybody")),
      members: names("only in GET /groups/{name}"),
    },
    createRequired: ["name"],
    sometimes: ["members"],
    examples: {
      create: { name: "postman-group", description: "made by the Postman collection" },
      update: { description: "changed" },
    },
  }),
  defineResource({
    tag: "ACLs",
    name: "Acl",
    path: "/acls",
    id: "name",
    description:
      "Access control lists: groups allowed and denied (deny wins). Administrators, Default and Anonymous are built in.",
    target: use("SecurityAdmin", (u) => u.security),
    calls: { list: "listAcls", create: "createAcl", get: "getAcl", update: "updateAcl", delete: "deleteAcl" },
    summaries: { update: "Update an ACL (allow and deny are replaced)" },
    fields: {
      name: text(255, { minLength: 1, pattern: NAME_PATTERN, description: "cannot be changed" }),
      allow: list({ description: "groups (or Anonymous) that exist; an update replaces the list" }),
      deny: list({ description: "groups (or Anonymous) that exist; an update replaces the list" }),
      builtin: readOnly(flag("one of the built-in ACLs (not in the answers of create and update)")),
      usedBy: names("folders and services assigned this ACL; only in GET /acls/{name}"),
    },
    createRequired: ["name"],
    sometimes: ["builtin", "usedBy"],
    examples: {
      create: { name: "postman-acl", allow: ["Everybody"], deny: [] },
      update: { allow: ["Administrators"] },
    },
  }),
  defineResource({
    tag: "Services",
    name: "Service",
    path: "/services",
    id: "name",
    idSchema: { type: "string", description: "a folder (`pub.math`) or a service (`pub.math:randomDouble`)" },
    description:
      "The namespace: folders and services with the ACL that applies to each, and where it comes from.",
    target: use("ServicesAdmin", (u) => u.services),
    calls: { list: "list", get: "get" },
    summaries: {
      list: "List the namespace: folders and services, each with the ACL that applies",
      get: "Get a folder, or a service with its signature",
    },
    fields: {
      name: shown(),
      kind: readOnly({ type: "string", const: "service" }),
      folder: shown(),
      description: shown(),
      package: shown("`builtin` for the pub.* services"),
      acl: shown(),
      aclFrom: maybe("the node the ACL is assigned to; null: the server default"),
      signature: readOnly({
        type: "object",
        description: "only in GET /services/{name}",
        properties: { input: objects("input fields"), output: objects("output fields") },
      }),
    },
    sometimes: ["signature"],
    answers: {
      list: {
        type: "object",
        required: ["folders", "services"],
        additionalProperties: false,
        properties: {
          folders: { type: "array", items: ref("Folder") },
          services: { type: "array", items: ref("Service") },
        },
      },
      item: { oneOf: [ref("Service"), ref("Folder")] },
    },
    exampleId: "pub.math:randomDouble",
    actions: [
      {
        method: "PUT",
        path: "/acl",
        item: true,
        operationId: "setServiceAcl",
        summary: "Assign an ACL to a folder or service (null removes the assignment)",
        useCase: "ServicesAdmin.setAcl",
        success: [200],
        errors: [400, 401, 403, 404],
        request: {
          type: "object",
          required: ["acl"],
          additionalProperties: false,
          properties: {
            acl: nullable(filled(255, { description: "an ACL that exists; null inherits again" })),
          },
        },
        response: { oneOf: [ref("Service"), ref("Folder")] },
        example: { acl: "Default" },
        run: (u, c) => u.services.setAcl(c.actor, c.id, c.body),
      },
    ],
  }),
  defineResource({
    tag: "Log",
    name: "LogEntry",
    plural: "LogEntries",
    path: "/log",
    description:
      "The newest records of the server log (structured JSON, pino); never a password, secret or token.",
    target: use("LogAdmin", (u) => u.log),
    calls: { list: "tail" },
    summaries: { list: "Read the newest records of the server log" },
    fields: {},
    query: [
      {
        name: "lines",
        schema: { type: "integer", minimum: 1, maximum: 5000, default: 200 },
        description: "how many records",
      },
      {
        name: "level",
        schema: { type: "string", enum: Object.keys(LEVELS) },
        description: "this level and above",
      },
      {
        name: "event",
        schema: { type: "string" },
        description: "only records of this event (`audit`: every admin write)",
      },
    ],
    answers: {
      list: {
        type: "object",
        required: ["entries"],
        additionalProperties: false,
        properties: { entries: objects("log records, oldest first") },
      },
    },
  }),
  defineResource({
    tag: "OAuth settings",
    name: "OAuthSettings",
    path: "/oauth/settings",
    description: "The global OAuth settings; PUT changes only the fields given.",
    target: use("OAuthSettingsAdmin", (u) => u.oauth.settings),
    calls: { read: "get", write: "update" },
    fields: {
      authorizationServer: filled(255, {
        description: "`local`, or the name of an external authorization server",
      }),
      requireHttps: flag("refuse OAuth requests over plain HTTP (loopback is exempt)"),
      trustForwardedProto: flag("believe X-Forwarded-Proto from a TLS-terminating proxy"),
      requirePkce: flag("PKCE for every client (public clients always need it)"),
      accessTokenFormat: text(16, {
        enum: ["opaque", "jwt"],
        description:
          "access tokens: `opaque` (default) or `jwt` (RFC 9068, keys at /oauth2/jwks); a client may override it",
      }),
      authorizationCodeLifetime: integer(1, DAY, { description: "seconds" }),
      accessTokenLifetime: integer(0, 3650 * DAY, { description: "seconds; 0: never expires" }),
      refreshTokenLifetime: integer(0, 3650 * DAY, { description: "seconds; 0: never expires" }),
      refreshGraceSeconds: integer(0, 600, { description: "a retried refresh within this window succeeds" }),
      secretOverlapSeconds: integer(0, 365 * DAY, {
        description: "how long a previous client secret keeps working",
      }),
      initialAccessTokenLifetime: integer(60, 365 * DAY, { description: "seconds" }),
      sweepIntervalSeconds: integer(1, DAY, {
        description: "how often expired tokens and codes are removed",
      }),
      approvalTitle: text(500),
      approvalHeading: text(500),
      approvalFooter: text(500),
    },
    examples: { update: { accessTokenLifetime: 3600 } },
  }),
  defineResource({
    tag: "OAuth scopes",
    name: "Scope",
    path: "/oauth/scopes",
    id: "name",
    description: "Scopes name folders (everything below them) and services; each must exist.",
    target: use("OAuthScopesAdmin", (u) => u.oauth.scopes),
    calls: { list: "list", create: "create", get: "get", update: "update", delete: "delete" },
    fields: {
      name: text(255, {
        minLength: 1,
        pattern: SCOPE_NAME,
        description: "RFC 6749 §3.3 scope-token characters; cannot be changed",
      }),
      description: text(2000),
      values: list({ minItems: 1, description: "folders and services that exist" }),
      createdAt: timestamp,
      updatedAt: timestamp,
    },
    createRequired: ["name", "values"],
    examples: {
      create: {
        name: "postman_reference",
        description: "made by the Postman collection",
        values: ["pub.string"],
      },
      update: { values: ["pub.string", "pub.math"] },
    },
  }),
  defineResource({
    tag: "OAuth clients",
    name: "Client",
    path: "/oauth/clients",
    id: "clientId",
    description:
      "OAuth clients. A confidential client's secret is generated, shown once (in the answer of create and of POST /secret) and stored only as a digest.",
    target: use("OAuthClientsAdmin", (u) => u.oauth.clients),
    calls: { list: "list", create: "create", get: "get", update: "update", delete: "delete" },
    fields: {
      clientId: shown("generated"),
      clientName: filled(255, { description: "clientName and version together are unique" }),
      version: text(255, { default: "1.0" }),
      type: { type: "string", enum: ["confidential", "public"], description: "cannot be changed" },
      description: text(2000),
      redirectUris: list({
        maxItems: 100,
        description: "absolute URIs; at least one for authorization_code",
      }),
      grantTypes: {
        type: "array",
        items: { type: "string", enum: [...GRANT_TYPES] },
        default: ["authorization_code"],
      },
      scopes: list({ description: "scopes that exist" }),
      accessTokenLifetime: nullable(
        integer(0, 3650 * DAY, { description: "seconds; null: the global setting; 0: never expires" }),
      ),
      refreshLimit: nullable(
        integer(0, 1_000_000, { description: "refreshes per grant; null: unlimited; 0: no refresh tokens" }),
      ),
      runAsUser: nullable(
        text(255, { description: "the user client_credentials tokens run as (required with that grant)" }),
      ),
      enabled: { type: "boolean", default: true },
      registered: readOnly(flag("registered through RFC 7591")),
      previousSecretExpiresAt: maybe(undefined, { format: "date-time" }),
      tokenEndpointAuthMethod: text(64, {
        enum: ["client_secret_basic", "client_secret_post", "none", ...TLS_AUTH_METHODS],
        description:
          "RFC 8705 tls_client_auth or self_signed_tls_client_auth: a client certificate and no secret; else a secret (or none: public)",
      }),
      ...Object.fromEntries(
        Object.values(ADMIN_NAMES).map((name) => [
          name,
          nullable(
            text(1024, { description: "tls_client_auth: the one certificate subject DN or SAN to match" }),
          ),
        ]),
      ),
      jwks: {
        type: ["object", "null"],
        description: "self_signed_tls_client_auth: the registered certificates, a JWKS whose keys carry x5c",
        properties: {
          keys: {
            type: "array",
            minItems: 1,
            maxItems: 20,
            items: {
              type: "object",
              required: ["x5c"],
              properties: { x5c: { type: "array", items: { type: "string" } } },
            },
          },
        },
        required: ["keys"],
      },
      tlsClientCertificates: text(256 * 1024, {
        writeOnly: true,
        description: "self_signed_tls_client_auth: PEM certificates, kept (and answered) as jwks",
      }),
      tlsClientCertificateBoundAccessTokens: flag(
        "RFC 8705 §3: access tokens bound to the client certificate",
      ),
      accessTokenFormat: {
        type: ["string", "null"],
        enum: ["opaque", "jwt", null],
        description: "RFC 9068: `jwt` or `opaque` access tokens; null: the global setting accessTokenFormat",
      },
      createdAt: timestamp,
      updatedAt: timestamp,
    },
    createRequired: ["clientName", "type"],
    once: {
      clientSecret: shown("confidential clients only; shown this once"),
    },
    examples: {
      create: {
        clientName: "postman-reference",
        version: "1.0",
        type: "confidential",
        redirectUris: ["http://localhost:8080/callback"],
        grantTypes: ["authorization_code", "refresh_token"],
        scopes: [],
      },
      update: { description: "changed by the Postman collection" },
    },
    actions: [
      {
        method: "POST",
        path: "/secret",
        item: true,
        operationId: "newClientSecret",
        summary: "Generate a new client secret (the previous one keeps working for overlapSeconds)",
        useCase: "OAuthClientsAdmin.newSecret",
        success: [200],
        errors: [400, 401, 403, 404],
        request: {
          type: "object",
          additionalProperties: false,
          properties: {
            overlapSeconds: integer(0, 365 * DAY, {
              description: "default: the secretOverlapSeconds setting",
            }),
          },
        },
        response: {
          type: "object",
          required: ["clientId", "clientSecret", "previousSecretExpiresAt"],
          additionalProperties: false,
          properties: {
            clientId: shown(),
            clientSecret: shown("shown this once"),
            previousSecretExpiresAt: maybe(undefined, { format: "date-time" }),
          },
        },
        example: { overlapSeconds: 0 },
        run: (u, c) => u.oauth.clients.newSecret(c.actor, c.id, c.body),
      },
    ],
  }),
  defineResource({
    tag: "OAuth tokens",
    name: "Token",
    path: "/oauth/tokens",
    id: "id",
    description:
      "Access and refresh tokens issued by Conduit; never their values (only digests are stored). DELETE revokes.",
    target: use("OAuthTokensAdmin", (u) => u.oauth.tokens),
    calls: { list: "list", delete: "revoke" },
    summaries: {
      list: "List tokens (never their values)",
      delete: "Revoke a token (a refresh token takes its whole grant with it)",
    },
    fields: {
      id: shown(),
      client: shown("the client's id"),
      clientId: shown(),
      owner: maybe("the approving user; null for client credentials"),
      scope: shown("space-separated"),
      type: readOnly({ type: "string", enum: ["access_token", "refresh_token"] }),
      grantId: shown(),
      issued: timestamp,
      expires: maybe(undefined, { format: "date-time" }),
      revoked: readOnly({ type: "boolean" }),
      revokedAt: maybe(undefined, { format: "date-time" }),
      active: readOnly({ type: "boolean" }),
      refreshCount: readOnly({ type: "integer", description: "refresh tokens only" }),
    },
    sometimes: ["refreshCount"],
    query: [
      { name: "clientId", schema: text(255), description: "tokens of this client" },
      { name: "user", schema: text(255), description: "tokens of this user" },
      {
        name: "active",
        schema: { type: "string", enum: ["true", "false"] },
        description: "only active (or inactive) tokens",
      },
      {
        name: "limit",
        schema: { type: "integer", minimum: 1, maximum: 10_000, default: 1000 },
        description: "at most this many",
      },
    ],
  }),
  defineResource({
    tag: "OAuth signing keys",
    name: "SigningKey",
    path: "/oauth/keys",
    description:
      "The keys JWT access tokens (RFC 9068) are signed with; the public ones are at /oauth2/jwks. Never private material (sealed at rest).",
    target: use("OAuthKeysAdmin", (u) => u.oauth.keys),
    calls: { list: "list" },
    summaries: { list: "List the signing keys (kid, alg, state; never private material)" },
    fields: {
      kid: shown("RFC 7638 thumbprint of the public key, the JWT header's kid"),
      alg: readOnly({ type: "string", enum: ["ES256", "RS256"] }),
      state: readOnly({
        type: "string",
        enum: ["current", "next", "previous", "retired"],
        description:
          "current signs; next is published ahead and signs after the next rotation; previous still verifies (in the JWKS); retired has left the JWKS",
      }),
      createdAt: timestamp,
      retiredAt: maybe("when a rotation replaced it", { format: "date-time" }),
      expiresAt: maybe("when it leaves the JWKS (the longest token lifetime after its rotation)", {
        format: "date-time",
      }),
    },
    actions: [
      {
        method: "POST",
        path: "/rotate",
        item: false,
        operationId: "rotateSigningKey",
        summary:
          "Rotate: the next key (already in the JWKS) signs new tokens; the previous one verifies until the last token it signed expires",
        useCase: "OAuthKeysAdmin.rotate",
        success: [200],
        errors: [400, 401, 403, 409],
        request: {
          type: "object",
          additionalProperties: false,
          properties: { alg: text(16, { enum: ["ES256", "RS256"], default: "ES256" }) },
        },
        response: ref("SigningKey"),
        example: { alg: "ES256" },
        run: (u, c) => u.oauth.keys.rotate(c.actor, c.body),
      },
    ],
  }),
  defineResource({
    tag: "OAuth initial access tokens",
    name: "InitialAccessToken",
    path: "/oauth/initial-access-tokens",
    id: "id",
    description:
      "Tokens that authorize RFC 7591 registrations within a policy (run-as user, scopes, grant types, number of registrations); the value is shown once, on creation. Without a policy a token registers one client with authorization_code and refresh_token.",
    target: use("InitialAccessTokensAdmin", (u) => u.oauth.initialAccessTokens),
    calls: { list: "list", create: "create", delete: "delete" },
    fields: {
      id: shown(),
      expiresIn: {
        type: "integer",
        minimum: 60,
        maximum: 365 * DAY,
        writeOnly: true,
        description: "seconds; default: the initialAccessTokenLifetime setting",
      },
      createdBy: shown(),
      createdAt: timestamp,
      expiresAt: timestamp,
      usedAt: maybe("the last registration", { format: "date-time" }),
      usedByClient: maybe("the client of the last registration"),
      runAsUser: nullable(
        text(255, {
          description:
            "a user that exists: the run-as user of the clients it registers (their client_credentials tokens run as it)",
        }),
      ),
      scopes: nullable(
        list({ description: "scopes that exist: all a registration may ask for; null: any scope" }),
      ),
      grantTypes: {
        type: "array",
        items: { type: "string", enum: [...GRANT_TYPES] },
        minItems: 1,
        description:
          "the grant types a registration may ask for; default: authorization_code and refresh_token, and client_credentials with a runAsUser (which it requires)",
      },
      maxUses: integer(1, 10_000, { default: 1, description: "how many registrations it allows" }),
      usesLeft: readOnly({ type: "integer", minimum: 0, description: "registrations it has left" }),
    },
    answers: {
      create: {
        type: "object",
        required: ["id", "token", "expiresAt"],
        additionalProperties: false,
        properties: {
          id: shown(),
          token: readOnly({
            type: "string",
            description: "the Bearer value for POST /oauth2/register; shown this once",
          }),
          expiresAt: timestamp,
        },
      },
    },
    examples: { create: { expiresIn: 3600 } },
  }),
  defineResource({
    tag: "OAuth external servers",
    name: "ExternalServer",
    path: "/oauth/external-servers",
    id: "name",
    description:
      "Third-party authorization servers (Okta and its peers) whose tokens Conduit checks by RFC 7662 introspection or as JWTs. The client secret and key are write-only (sealed at rest).",
    target: use("ExternalServersAdmin", (u) => u.externalServers),
    calls: { list: "list", create: "create", get: "get", update: "update", delete: "delete" },
    fields: {
      name: text(255, { minLength: 1, pattern: NAME_PATTERN, description: "not `local`; cannot be changed" }),
      introspectionEndpoint: text(2048, {
        format: "uri",
        description: "required unless discoveryUrl names one",
      }),
      clientId: text(1024, { description: "Conduit's client at the third party (required on create)" }),
      clientSecret: text(4096, {
        minLength: 1,
        writeOnly: true,
        description: "required on create; never returned",
      }),
      user: nullable(
        text(255, {
          pattern: NAME_PATTERN,
          description: "the Conduit user requests run as (required unless subjectClaim)",
        }),
      ),
      subjectClaim: nullable(text(255, { description: "the claim naming the Conduit user to run as" })),
      cacheTtlSeconds: integer(0, DAY, { default: 60 }),
      inactiveCacheTtlSeconds: integer(0, 300, { default: 5 }),
      staleIfErrorSeconds: integer(0, 3600, { default: 0 }),
      timeoutMs: integer(50, 60_000, { default: 2000 }),
      breakerThreshold: integer(1, 100, {
        default: 3,
        description: "timeouts in a row that open the circuit breaker (then 503 at once, no call)",
      }),
      breakerOpenSeconds: integer(1, 3600, {
        default: 5,
        description: "how long an open circuit breaker answers 503 before one probe call goes through",
      }),
      issuer: nullable(
        text(2048, { description: "JWTs naming this iss are verified locally (needs jwksUri)" }),
      ),
      jwksUri: URL_FIELD("the third party's JWKS"),
      audience: nullable(text(1024, { description: "the aud a JWT must carry" })),
      discoveryUrl: URL_FIELD("RFC 8414 or OpenID discovery document that fills in the endpoints"),
      clientCertificate: PEM(
        "mutual TLS: the PEM certificate (chain, leaf first) Conduit presents; null clears it and its key",
      ),
      clientKey: {
        ...PEM("mutual TLS: the PEM private key of clientCertificate; never returned"),
        writeOnly: true,
      },
      clientKeySet: readOnly(flag("whether a client key is stored")),
      caCertificates: PEM("PEM CA bundle trusted for this server; null: the system roots"),
      createdAt: timestamp,
      updatedAt: timestamp,
    },
    createRequired: ["name", "clientId", "clientSecret"],
    secrets: ["clientSecret", "clientKey"],
    examples: {
      create: {
        name: "postman-okta",
        introspectionEndpoint: "https://dev-1.okta.com/oauth2/default/v1/introspect",
        clientId: "0oa1b2c3",
        clientSecret: "a-secret-of-the-third-party",
        user: "Administrator",
      },
      update: { cacheTtlSeconds: 30 },
    },
  }),
  defineResource({
    tag: "Packages",
    name: "Package",
    path: "/packages",
    id: "name",
    idSchema: { type: "string", pattern: PACKAGE_NAME.source },
    description:
      "Packages of flow services under CONDUIT_PACKAGES_DIR; a broken package keeps its last good version serving.",
    target: use("PackagesAdmin", (u) => u.packages),
    calls: { list: "list", get: "get" },
    fields: {
      name: shown(),
      version: shown(),
      description: shown(),
      requires: names(),
      loaded: readOnly(flag("whether a good version is serving")),
      services: names(),
      flows: names(),
      errors: readOnly(objects("problems of the last load: {file, path?, message}")),
      loadedAt: maybe(undefined, { format: "date-time" }),
    },
    exampleId: "OAuthExamples",
    actions: [
      {
        method: "POST",
        path: "/reload",
        item: true,
        operationId: "reloadPackage",
        summary:
          "Reload a package from its files (422 naming its problems; the last good version keeps serving)",
        useCase: "PackagesAdmin.reload",
        success: [200],
        errors: [401, 403, 404, 422],
        response: ref("Package"),
        run: (u, c) => u.packages.reload(c.actor, c.id),
      },
    ],
  }),
  defineResource({
    tag: "Flows",
    name: "Flow",
    path: "/flows",
    id: "name",
    idSchema: { type: "string", pattern: SERVICE_NAME, description: "folder.sub:service" },
    description:
      "Flow services: PUT checks a definition completely, writes it into its package and reloads it.",
    target: use("PackagesAdmin", (u) => u.packages),
    calls: { list: "listFlows", get: "getFlow", upsert: "putFlow", delete: "deleteFlow" },
    fields: {
      name: shown(),
      package: text(100, {
        description: "the package to write into: required for a new flow, cannot change",
      }),
      file: shown("relative to the package"),
      definition: {
        type: ["object", "string"],
        description: "the flow (JSON Schema at GET /admin/api/flows/schema), or its YAML or JSON text",
      },
      warnings: names("services it invokes that do not exist"),
    },
    updateRequired: ["definition"],
    sometimes: ["definition", "warnings"],
    exampleId: "examples.postman:hello",
    examples: {
      update: {
        package: "OAuthExamples",
        definition: {
          signature: {
            input: [{ name: "who", type: "string" }],
            output: [{ name: "greeting", type: "string" }],
          },
          steps: [{ type: "map", set: { greeting: "hello %who%" } }],
        },
      },
    },
    actions: [
      {
        method: "GET",
        path: "/schema",
        item: false,
        operationId: "getFlowSchema",
        summary: "The JSON Schema of flow files",
        useCase: "src/flow/schema.json",
        success: [200],
        errors: [401, 403],
        response: { type: "object", description: "a JSON Schema (draft-07)" },
        run: () => flowSchema,
      },
    ],
  }),
  defineResource({
    tag: "Global variables",
    name: "GlobalVariable",
    path: "/global-variables",
    id: "name",
    idSchema: { type: "string", pattern: GLOBAL_NAME.source },
    description:
      "Global variables feed %name% substitution in flows; a secret one is encrypted at rest and its value never returned.",
    target: use("GlobalVariablesAdmin", (u) => u.globals),
    calls: { list: "list", get: "get", upsert: "put", delete: "delete" },
    fields: {
      name: text(255, { pattern: GLOBAL_NAME.source, description: "must equal the path's" }),
      value: text(64 * 1024, { description: "write-only for a secret variable: then never returned" }),
      secret: { type: "boolean", default: false },
      createdAt: timestamp,
      updatedAt: timestamp,
    },
    updateRequired: ["value"],
    secrets: ["value"],
    answers: {
      item: {
        oneOf: [
          object(
            {
              name: shown(),
              value: shown(),
              secret: readOnly({ const: false }),
              createdAt: timestamp,
              updatedAt: timestamp,
            },
            ["name", "value", "secret", "createdAt", "updatedAt"],
            "a plain variable",
          ),
          object(
            { name: shown(), secret: readOnly({ const: true }), createdAt: timestamp, updatedAt: timestamp },
            ["name", "secret", "createdAt", "updatedAt"],
            "a secret variable: its value is never returned",
          ),
        ],
      },
    },
    exampleId: "postmanGreeting",
    examples: { update: { value: "hello" }, secret: { value: "a-secret-value", secret: true } },
  }),
];

// ---- derived operations

/** One operation of the admin API, derived from the table: what the routes, the document and Postman use. */
export interface AdminOperation extends Described {
  /** The full path in OpenAPI form: `/admin/api/users/{username}`. */
  path: string;
  param?: { name: string; schema: Schema };
  resource: Resource;
  kind: Kind | "action";
  query?: QueryParameter[];
  run(u: UseCases, call: Call): Promise<{ status: number; body?: unknown }>;
}

export const ADMIN_PREFIX = "/admin/api";

const pick = (fields: Record<string, Schema>, keep: (s: Schema) => boolean) =>
  Object.fromEntries(Object.entries(fields).filter(([, s]) => keep(s)));

/** The component schemas of the table: `X` (an answer), `XCreate`, `XUpdate`, `XCreated`. */
export function adminSchemas(): Record<string, Schema> {
  const schemas: Record<string, Schema> = {};
  for (const r of RESOURCES) {
    const readable = pick(r.fields, (s) => s.writeOnly !== true);
    const writable = pick(r.fields, (s) => s.readOnly !== true);
    if (Object.keys(readable).length > 0)
      schemas[r.name] =
        r.answers?.item ??
        object(
          readable,
          Object.keys(readable).filter((k) => !r.sometimes?.includes(k)),
          r.description,
        );
    if (r.calls.create) schemas[`${r.name}Create`] = object(writable, r.createRequired ?? []);
    if (r.calls.update || r.calls.upsert || r.calls.write)
      schemas[`${r.name}Update`] = object(writable, r.updateRequired ?? []);
    if (r.answers?.create) schemas[`${r.name}Created`] = r.answers.create;
    else if (r.once) {
      const answer = schemas[r.name]!;
      schemas[`${r.name}Created`] = {
        ...answer,
        properties: { ...(answer.properties as object), ...r.once },
      };
    }
  }
  // The other shape of GET /services/{name}.
  schemas.Folder = object(
    {
      name: shown(),
      kind: readOnly({ type: "string", const: "folder" }),
      acl: shown(),
      aclFrom: maybe(),
    },
    ["name", "kind", "acl", "aclFrom"],
    "A folder of the namespace and the ACL that applies to it.",
  );
  return schemas;
}

function standard(r: Resource, kind: Kind, method: string): AdminOperation {
  const k = KINDS[kind];
  const plural = r.plural ?? `${r.name}s`;
  const item = k.item && r.id ? `/{${r.id}}` : "";
  const body =
    kind === "create"
      ? `${r.name}Create`
      : ["update", "upsert", "write"].includes(kind)
        ? `${r.name}Update`
        : undefined;
  const answer =
    kind === "list"
      ? (r.answers?.list ?? { type: "array", items: ref(r.name) })
      : kind === "create"
        ? ref(r.answers?.create || r.once ? `${r.name}Created` : r.name)
        : kind === "delete"
          ? undefined
          : ref(r.name);
  const reads = k.method === "GET";
  return {
    method: k.method,
    path: `${ADMIN_PREFIX}${r.path}${item}`,
    ...(item ? { param: { name: r.id!, schema: r.idSchema ?? { type: "string" } } } : {}),
    resource: r,
    kind,
    operationId: `${k.verb}${kind === "list" ? plural : r.name}`,
    summary: r.summaries?.[kind] ?? SUMMARIES[kind](r),
    useCase: `${r.target.useCase}.${method}`,
    success: k.success,
    errors: [...(reads && !r.query ? [] : [400]), 401, 403, ...(item ? [404] : []), ...(reads ? [] : [409])],
    ...(body ? { request: ref(body) } : {}),
    ...(answer ? { response: answer } : {}),
    ...(kind === "list" && r.query ? { query: r.query } : {}),
    ...(exampleOf(r, kind) ? { example: exampleOf(r, kind) } : {}),
    run: async (u, call) => {
      const target = r.target(u) as Record<string, (...args: unknown[]) => unknown>;
      const result = await target[method]!(...k.args(call));
      if (kind === "upsert") {
        const { created, ...rest } = result as { created: boolean };
        return { status: created ? 201 : 200, body: Object.values(rest)[0] };
      }
      return { status: k.success[0]!, body: result };
    },
  };
}

function exampleOf(r: Resource, kind: Kind): Record<string, unknown> | undefined {
  if (kind === "create") return r.examples?.create;
  if (kind === "update" || kind === "upsert" || kind === "write") return r.examples?.update;
  return undefined;
}

const SUMMARIES: Record<Kind, (r: Resource) => string> = {
  list: (r) => `List the ${r.tag.replace(/^[A-Z][a-z]/, (s) => s.toLowerCase())}`,
  create: (r) => `Create ${article(r)}`,
  get: (r) => `Get ${article(r)}`,
  update: (r) => `Update ${article(r)} (fields not given keep their values)`,
  upsert: (r) => `Create or replace ${article(r)} (201 when created)`,
  delete: (r) => `Delete ${article(r)}`,
  read: (r) => `Get the ${r.tag}`,
  write: (r) => `Change the ${r.tag} (the fields given)`,
};
const words = (r: Resource) =>
  r.name
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .replace(/\bacl\b/, "ACL");
const article = (r: Resource) => `${/^[aeio]/i.test(words(r)) ? "an" : "a"} ${words(r)}`;

function action(r: Resource, a: Action): AdminOperation {
  const base = `${ADMIN_PREFIX}${r.path}${a.item ? `/{${r.id}}` : ""}`;
  return {
    method: a.method,
    path: `${base}${a.path}`,
    ...(a.item ? { param: { name: r.id!, schema: r.idSchema ?? { type: "string" } } } : {}),
    resource: r,
    kind: "action",
    operationId: a.operationId,
    summary: a.summary,
    useCase: a.useCase,
    success: a.success,
    errors: a.errors,
    ...(a.request ? { request: a.request } : {}),
    ...(a.response ? { response: a.response } : {}),
    ...(a.example ? { example: a.example } : {}),
    run: async (u, call) => ({ status: a.success[0]!, body: await a.run(u, call) }),
  };
}

/** Every operation of the table, in table order (within a resource: create, list, get, …, actions, delete). */
export function adminOperations(): AdminOperation[] {
  return RESOURCES.flatMap((r) => {
    const ops = KIND_ORDER.filter((k) => r.calls[k] !== undefined).map((k) => standard(r, k, r.calls[k]!));
    const actions = (r.actions ?? []).map((a) => action(r, a));
    const last = ops.findIndex((o) => o.kind === "delete");
    return last < 0 ? [...ops, ...actions] : [...ops.slice(0, last), ...actions, ...ops.slice(last)];
  });
}
