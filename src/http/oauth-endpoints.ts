import type { IncomingMessage } from "node:http";
import { TLSSocket } from "node:tls";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Conduit } from "../conduit.js";
import type { OAuthServer } from "../oauth/context.js";
import { authorizationEndpoint } from "../oauth/endpoints/authorize.js";
import { introspectionEndpoint } from "../oauth/endpoints/introspect.js";
import { jwksEndpoint, metadataEndpoint } from "../oauth/endpoints/metadata.js";
import { registrationEndpoint, registrationManagementEndpoint } from "../oauth/endpoints/register.js";
import { revocationEndpoint } from "../oauth/endpoints/revoke.js";
import { tokenEndpoint } from "../oauth/endpoints/token.js";
import { OAuthError, invalidRequest, methodNotAllowed } from "../oauth/errors.js";
import { NO_STORE, type OAuthRequest, type OAuthResponse, type Params } from "../oauth/request.js";
import { containsNul } from "../oauth/text.js";
import { isLoopbackAddress } from "../oauth/transport.js";
import { databaseFailure } from "../storage/failures.js";
import { sendError } from "./errors.js";
import { parseForm } from "./form.js";
import { authenticate } from "./auth.js";
import { peerCertificate } from "./tls.js";

type Endpoint = (
  server: OAuthServer,
  request: OAuthRequest,
  params: Record<string, string>,
) => Promise<OAuthResponse>;

interface Route {
  url: string;
  methods: string[];
  endpoint: Endpoint;
  /** The IS names read query and body together, and take JSON bodies as /invoke does. */
  isName?: boolean;
}

const ROUTES: Route[] = [
  { url: "/.well-known/oauth-authorization-server", methods: ["GET"], endpoint: (s) => metadataEndpoint(s) },
  { url: "/oauth2/jwks", methods: ["GET"], endpoint: (s) => jwksEndpoint(s) },
  { url: "/oauth2/authorize", methods: ["GET", "POST"], endpoint: authorizationEndpoint },
  { url: "/oauth2/token", methods: ["POST"], endpoint: tokenEndpoint },
  { url: "/oauth2/introspect", methods: ["POST"], endpoint: introspectionEndpoint },
  { url: "/oauth2/revoke", methods: ["POST"], endpoint: revocationEndpoint },
  { url: "/oauth2/register", methods: ["POST"], endpoint: registrationEndpoint },
  {
    url: "/oauth2/register/:clientId",
    methods: ["GET", "PUT", "DELETE"],
    endpoint: (s, r, p) => registrationManagementEndpoint(s, r, p.clientId ?? ""),
  },
  // The Integration Server names of the same handlers (explicit routes win over /invoke/*).
  {
    url: "/invoke/pub.oauth/authorize",
    methods: ["GET", "POST"],
    endpoint: authorizationEndpoint,
    isName: true,
  },
  { url: "/invoke/pub.oauth/getToken", methods: ["POST"], endpoint: tokenEndpoint, isName: true },
  {
    url: "/invoke/pub.oauth/introspectToken",
    methods: ["POST"],
    endpoint: introspectionEndpoint,
    isName: true,
  },
  { url: "/invoke/pub.oauth/revokeToken", methods: ["POST"], endpoint: revocationEndpoint, isName: true },
];

/** The media type of every JSON answer of the OAuth endpoints. */
export const JSON_TYPE = "application/json; charset=utf-8";

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
/** A body in a media type no parser takes; the endpoints refuse it with an OAuth error. */
const OTHER_BODY = Symbol("other media type");

/**
 * The OAuth endpoints as an encapsulated plugin: its own catch-all body parser and its own error handler,
 * so every failure (bad media type, bad JSON, too large, wrong method) is an RFC 6749 §5.2 JSON error with
 * `Cache-Control: no-store`, never a 500 for the caller's mistakes.
 */
export async function oauthEndpointRoutes(
  app: FastifyInstance,
  { server, conduit }: { server: OAuthServer; conduit: Conduit },
): Promise<void> {
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, _body, done) => done(null, OTHER_BODY));
  app.setErrorHandler((error, request, reply) => sendOAuthError(server, request, reply, error));

  for (const route of ROUTES) {
    const alias = route.isName ? [route.url, route.url.replace("pub.oauth/", "pub.oauth::")] : [route.url];
    for (const url of alias)
      app.route({
        method: METHODS,
        url,
        handler: async (request, reply) => {
          const allowed = request.method === "HEAD" ? "GET" : request.method;
          if (!route.methods.includes(allowed)) throw methodNotAllowed(route.methods);
          const oauthRequest = toOAuthRequest(request, route.isName === true);
          const params = request.params as Record<string, string>;
          if (containsNul([oauthRequest.query, oauthRequest.body, oauthRequest.jsonBody, params]))
            throw invalidRequest("parameters must not contain NUL characters");
          return send(reply, await route.endpoint(server, oauthRequest, params));
        },
      });
  }

  // pub.oauth:removeExpiredAccessTokens is a real service (administrators only): run it as /invoke would.
  for (const url of [
    "/invoke/pub.oauth/removeExpiredAccessTokens",
    "/invoke/pub.oauth::removeExpiredAccessTokens",
  ])
    app.route({
      method: ["GET", "POST"],
      url,
      errorHandler: (error, request, reply) => sendError(conduit.log, request, reply, error),
      handler: async (request, reply) => {
        const principal = await authenticate(conduit, request);
        const output = await conduit.runtime.invoke(
          "pub.oauth:removeExpiredAccessTokens",
          {},
          {
            principal,
            transport: {
              protocol: "http",
              method: request.method,
              path: request.url.split("?")[0] ?? "",
              ip: request.ip,
            },
          },
        );
        return reply.type("application/json; charset=utf-8").send(output);
      },
    });
}

function toOAuthRequest(request: FastifyRequest, isName: boolean): OAuthRequest {
  const queryIndex = request.url.indexOf("?");
  const query = queryIndex < 0 ? {} : parseForm(request.url.slice(queryIndex + 1));
  const mediaType = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  const raw = request.body;
  let bodyType: OAuthRequest["bodyType"];
  let body: Params = {};
  if (raw === undefined || raw === null) bodyType = "none";
  else if (raw === OTHER_BODY) bodyType = "other";
  else if (mediaType === "application/x-www-form-urlencoded") [bodyType, body] = ["form", raw as Params];
  else if (mediaType === "application/json") {
    bodyType = "json";
    if (isName) body = jsonParams(raw);
  } else bodyType = "other";
  return oauthRequestOf(request.raw, {
    method: request.method === "HEAD" ? "GET" : request.method,
    path: request.url.slice(0, queryIndex < 0 ? undefined : queryIndex),
    query,
    body,
    jsonBody: bodyType === "json" ? raw : undefined,
    bodyType,
    mergeQuery: isName,
  });
}

/**
 * An OAuth request from Node's request and what was read of its URL and body, on Fastify's routes and on
 * the fast path alike (src/http/fast-oauth.ts). With trustProxy off, as Conduit runs Fastify, Fastify's
 * `request.ip` is the socket's remote address and its `request.protocol` is https exactly on a TLS socket;
 * `request.headers` is Node's object.
 */
export function oauthRequestOf(
  raw: IncomingMessage,
  parts: Pick<OAuthRequest, "method" | "path" | "query" | "body" | "jsonBody" | "bodyType" | "mergeQuery">,
): OAuthRequest {
  const headers = raw.headers;
  const header = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(", ") : value;
  };
  const socket = raw.socket;
  const ip = socket.remoteAddress ?? "";
  return {
    method: parts.method,
    path: parts.path,
    query: parts.query,
    body: parts.body,
    jsonBody: parts.jsonBody,
    bodyType: parts.bodyType,
    mergeQuery: parts.mergeQuery,
    authorization: header("authorization"),
    cookie: header("cookie"),
    accept: header("accept"),
    ip,
    connection: socket,
    clientCertificate: peerCertificate(socket),
    tls: socket instanceof TLSSocket,
    forwardedProto: header("x-forwarded-proto"),
    loopback: isLoopbackAddress(ip),
  };
}

/** A JSON object of strings, as the IS names accept; anything else is invalid_request. */
function jsonParams(raw: unknown): Params {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw invalidRequest("the JSON body must be an object of strings");
  const out: Params = Object.create(null) as Params;
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== "string") throw invalidRequest(`${name} must be a string`);
    out[name] = value;
  }
  return out;
}

function send(reply: FastifyReply, response: OAuthResponse): FastifyReply {
  reply.headers(response.headers ?? {});
  switch (response.kind) {
    case "json":
      return reply.code(response.status).type(JSON_TYPE).send(JSON.stringify(response.body));
    case "html":
      return reply.code(response.status).send(response.html);
    case "redirect":
      return reply.code(response.status).header("location", response.location).send();
    case "empty":
      return reply.code(response.status).send();
  }
}

/** Fastify's own 4xx errors (media type, JSON syntax, size) as OAuth errors with their status. */
function sendOAuthError(
  server: OAuthServer,
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
): FastifyReply {
  const answer = oauthErrorAnswer(server, error, request.routeOptions.url);
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}

/**
 * The answer to a failure on an OAuth endpoint, on Fastify's routes and on the fast path alike: the
 * endpoint's OAuth error, Fastify's own 4xx errors as invalid_request, a database that is down as
 * temporarily_unavailable (503), anything else as server_error (500, logged with `url`, the route).
 */
export function oauthErrorAnswer(
  server: OAuthServer,
  error: unknown,
  url: string | undefined,
): { status: number; headers: Record<string, string>; body: string } {
  let oauth: OAuthError;
  if (error instanceof OAuthError) oauth = error;
  else {
    const status = (error as Partial<FastifyError>).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500)
      oauth = new OAuthError("invalid_request", clientMessage(error as FastifyError), status);
    else if (databaseFailure(error) === "unavailable") {
      // The database is down or partitioned (issue 11): try again later, as on every other route.
      server.log.warn(
        { event: "database_unavailable", err: { message: (error as Error).message } },
        "database unavailable",
      );
      oauth = new OAuthError("temporarily_unavailable", "the database is unavailable; try again later", 503, {
        "retry-after": "5",
      });
    } else {
      server.log.error({ err: error, url }, "OAuth endpoint failed");
      oauth = new OAuthError("server_error", "the server could not complete the request", 500);
    }
  }
  return {
    status: oauth.status,
    headers: { ...NO_STORE, ...oauth.headers, "content-type": JSON_TYPE },
    body: JSON.stringify(oauth.body()),
  };
}

function clientMessage(error: FastifyError): string {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return "the request body is too large";
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return "the request body is not valid JSON";
    default:
      return "the request is malformed";
  }
}
