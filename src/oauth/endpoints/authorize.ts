import { randomToken, sha256 } from "../../kernel/crypto.js";
import { timeOrderedId } from "../ids.js";
import { parseAuthorization } from "../../security/authentication.js";
import { decodeBasic } from "../../security/basic.js";
import type { ClientRecord } from "../clients.js";
import type { OAuthServer } from "../context.js";
import { OAuthError, invalidRequest, methodNotAllowed } from "../errors.js";
import { postParams } from "../params.js";
import { NO_STORE, type OAuthRequest, type OAuthResponse, type Params } from "../request.js";
import { matchRedirectUri, withParams } from "../redirect-uri.js";
import type { OAuthSettings } from "../settings.js";
import { isSecure } from "../transport.js";
import {
  parseAuthorizationRequest,
  RedirectableError,
  type AuthorizationRequest,
} from "../authorize/authorization-request.js";
import { approvalPage, errorPage, htmlResponse, loginPage } from "../authorize/pages.js";
import {
  cookieNonce,
  csrfToken,
  csrfValid,
  newCookieNonce,
  openTicket,
  signTicket,
  TICKET_LIFETIME_MS,
  type Ticket,
} from "../authorize/ticket.js";

interface Step {
  server: OAuthServer;
  request: OAuthRequest;
  settings: OAuthSettings;
  params: Params;
  nonce: string;
  secure: boolean;
  /** Set-Cookie for a browser that had no cookie yet, or a new one at sign-in. */
  cookieHeaders: Record<string, string>;
}

/**
 * The authorization endpoint (RFC 6749 §3.1, §4.1.1–§4.1.2.1; RFC 7636; RFC 9207): validate the request →
 * sign in the resource owner (HTML form or Basic credentials) → approval page → a single-use code redirected
 * with `state` and `iss`. Also `/invoke/pub.oauth/authorize`.
 */
export async function authorizationEndpoint(
  server: OAuthServer,
  request: OAuthRequest,
): Promise<OAuthResponse> {
  if (request.method !== "GET" && request.method !== "POST") throw methodNotAllowed(["GET", "POST"]);
  const settings = await server.settings.get();
  const secure = isSecure(request, settings);
  if (settings.requireHttps && !secure)
    return untrustedError(request, invalidRequest("HTTPS is required (the requireHttps setting is on)"));
  let params: Params;
  try {
    params = request.method === "GET" ? request.query : postParams(request);
  } catch (error) {
    return untrustedError(request, error as OAuthError);
  }
  const { nonce, setCookie } = cookieNonce(request.cookie, secure);
  const step: Step = {
    server,
    request,
    settings,
    params,
    nonce,
    secure,
    cookieHeaders: setCookie ? { "set-cookie": setCookie } : {},
  };
  try {
    if (params.ticket !== undefined) return await continueAuthorization(step);
    return await startAuthorization(step);
  } catch (error) {
    if (error instanceof RedirectableError)
      return redirect(request, error.redirectUri, {
        error: error.error,
        error_description: error.message,
        state: error.state,
        iss: server.issuer,
      });
    if (error instanceof OAuthError) return untrustedError(request, error);
    throw error;
  }
}

/** A new authorization request: validate it, then the login page, or the approval page given Basic credentials. */
async function startAuthorization(step: Step): Promise<OAuthResponse> {
  const { server, request, settings, params } = step;
  const authorization = await parseAuthorizationRequest(server, params, settings);
  const ticket: Ticket = {
    clientId: authorization.client.clientId,
    redirectUri: authorization.redirectUri,
    redirectUriGiven: authorization.redirectUriGiven,
    scopes: authorization.scopes,
    ...(authorization.state === undefined ? {} : { state: authorization.state }),
    ...(authorization.codeChallenge === undefined ? {} : { codeChallenge: authorization.codeChallenge }),
    binding: sha256(step.nonce),
    expiresAt: server.clock.now() + TICKET_LIFETIME_MS,
  };
  const parsed = parseAuthorization(request.authorization);
  if (parsed?.scheme === "basic") {
    const credentials = decodeBasic(parsed.value);
    const principal = credentials
      ? await server.verifyUser(credentials.username, credentials.password, request.ip)
      : null;
    if (!principal)
      return htmlResponse(
        401,
        loginPage(form(step, ticket, authorization.client), "Invalid username or password."),
        {
          ...step.cookieHeaders,
          "www-authenticate": 'Basic realm="Conduit", charset="UTF-8"',
        },
      );
    return approval(...signIn(step, ticket, principal.username), authorization.client);
  }
  return htmlResponse(200, loginPage(form(step, ticket, authorization.client)), step.cookieHeaders);
}

/** A submitted login or approval form: the ticket and CSRF token must belong to this browser. */
async function continueAuthorization(step: Step): Promise<OAuthResponse> {
  const { server, request, params } = step;
  const text = single(params, "ticket");
  const ticket = text ? openTicket(server.keys, text, readNonce(step), server.clock.now()) : undefined;
  if (!ticket || !csrfValid(server.keys, readNonce(step), single(params, "csrf_token")))
    throw new OAuthError(
      "invalid_request",
      "the form has expired or was not sent from this browser; start again",
    );
  const client = await server.clients.get(ticket.clientId);
  if (!client?.enabled) throw invalidRequest("the client is no longer available");
  // The URI was checked when the request came; the client may have dropped it since (RFC 9700 §4.1.3).
  if (matchRedirectUri(client.redirectUris, ticket.redirectUri) === undefined)
    throw invalidRequest("redirect_uri is no longer registered for this client");
  if (ticket.username === undefined) {
    const username = single(params, "username") ?? "";
    const password = single(params, "password") ?? "";
    const principal = await server.verifyUser(username, password, request.ip);
    if (!principal)
      return htmlResponse(200, loginPage(form(step, ticket, client), "Invalid username or password."));
    return approval(...signIn(step, ticket, principal.username), client);
  }
  const decision = single(params, "decision");
  if (decision !== "approve" && decision !== "deny") throw invalidRequest("decision must be approve or deny");
  const chosen = [params.scope ?? []].flat().filter((s) => ticket.scopes.includes(s));
  if (decision === "approve" && chosen.length === 0)
    return approval(step, ticket, client, "Keep at least one scope, or deny.");
  // A decision is taken once: the approval form cannot be sent again for another code.
  if (!(await spend(server, text!, ticket.expiresAt)))
    throw invalidRequest("this approval was already submitted; start again");
  const spent = { "set-cookie": newCookieNonce(step.secure).setCookie };
  if (decision === "deny")
    return redirect(
      request,
      ticket.redirectUri,
      {
        error: "access_denied",
        error_description: "the resource owner denied the request",
        state: ticket.state,
        iss: server.issuer,
      },
      spent,
    );
  return issueCode(step, ticket, [...new Set(chosen)], spent);
}

/** A decision is taken once across the cluster (the decision store keeps each decided ticket's digest). */
function spend(server: OAuthServer, ticket: string, expiresAt: number): Promise<boolean> {
  return server.decisions.spend(sha256(ticket), expiresAt);
}

/**
 * The resource owner has signed in: a new cookie nonce (no fixated nonce survives the sign-in), the ticket
 * bound to it with the username and a fresh lifetime.
 */
function signIn(step: Step, ticket: Ticket, username: string): [Step, Ticket] {
  const { nonce, setCookie } = newCookieNonce(step.secure);
  return [
    { ...step, nonce, cookieHeaders: { "set-cookie": setCookie } },
    {
      ...ticket,
      username,
      binding: sha256(nonce),
      expiresAt: step.server.clock.now() + TICKET_LIFETIME_MS,
    },
  ];
}

async function approval(
  step: Step,
  ticket: Ticket,
  client: ClientRecord,
  error?: string,
): Promise<OAuthResponse> {
  const scopes = await Promise.all(
    ticket.scopes.map(async (name) => ({
      name,
      description: (await step.server.scopes.get(name))?.description ?? "",
    })),
  );
  const texts = {
    title: step.settings.approvalTitle,
    heading: step.settings.approvalHeading,
    footer: step.settings.approvalFooter,
  };
  const html = approvalPage(
    { ...form(step, ticket, client), username: ticket.username ?? "", scopes },
    texts,
    error,
  );
  return htmlResponse(error ? 400 : 200, html, step.cookieHeaders);
}

/** RFC 6749 §4.1.2: a single-use code (RFC 9700 §4.2.4), short-lived, bound to client, redirect URI and PKCE. */
async function issueCode(
  step: Step,
  ticket: Ticket,
  scopes: string[],
  headers: Record<string, string>,
): Promise<OAuthResponse> {
  const { server, settings } = step;
  const code = randomToken(32);
  const now = server.clock.now();
  await server.codes.insert({
    digest: sha256(code),
    clientId: ticket.clientId,
    username: ticket.username!,
    redirectUri: ticket.redirectUri,
    redirectUriGiven: ticket.redirectUriGiven,
    scopes,
    codeChallenge: ticket.codeChallenge,
    grantId: timeOrderedId(),
    createdAt: now,
    expiresAt: now + settings.authorizationCodeLifetime * 1000,
    consumedAt: undefined,
  });
  server.log.info(
    { event: "oauth_code_issued", clientId: ticket.clientId, user: ticket.username, scopes },
    "authorization approved",
  );
  return redirect(
    step.request,
    ticket.redirectUri,
    { code, state: ticket.state, iss: server.issuer },
    headers,
  );
}

function form(step: Step, ticket: Ticket, client: ClientRecord) {
  return {
    action: step.request.path,
    ticket: signTicket(step.server.keys, ticket),
    csrfToken: csrfToken(step.server.keys, step.nonce),
    client: `${client.clientName} (${client.version})`,
  };
}

/** The nonce of the cookie the browser sent (a freshly minted one cannot match any ticket). */
function readNonce(step: Step): string | undefined {
  return step.cookieHeaders["set-cookie"] ? undefined : step.nonce;
}

function single(params: Params, name: string): string | undefined {
  const value = params[name];
  return typeof value === "string" ? value : undefined;
}

/** §4.1.2, §4.1.2.1 and RFC 9207 §2: parameters added to the validated redirect URI; 303 after a form POST. */
function redirect(
  request: OAuthRequest,
  uri: string,
  params: Record<string, string | undefined>,
  headers: Record<string, string> = {},
): OAuthResponse {
  return {
    kind: "redirect",
    status: request.method === "POST" ? 303 : 302,
    location: withParams(uri, params),
    headers: { ...NO_STORE, ...headers },
  };
}

/** §4.1.2.1: never redirect to an unverified URI; a page for browsers, JSON for everything else. */
function untrustedError(request: OAuthRequest, error: OAuthError): OAuthResponse {
  if (request.accept?.includes("text/html"))
    return htmlResponse(error.status, errorPage(error.error, error.message));
  return {
    kind: "json",
    status: error.status,
    body: error.body(),
    headers: { ...NO_STORE, ...error.headers },
  };
}

export type { AuthorizationRequest };
