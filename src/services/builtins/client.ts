import { STATUS_CODES } from "node:http";
import { CONNECTION_FIELDS, FIELD_NAME, FIELD_VALUE } from "../http-fields.js";
import { Readable } from "node:stream";
import { Agent, request, type Dispatcher } from "undici";
import { LRUCache } from "lru-cache";
import { keyMatchesCertificate, parseCertificates, parsePrivateKey } from "../../kernel/certificates.js";
import { sha256 } from "../../kernel/crypto.js";
import { BadRequestError, ConduitError } from "../../kernel/errors.js";
import { defineService, type ServiceDefinition } from "../types.js";

const METHODS = new Set(["get", "post", "put", "patch", "delete", "head", "options"]);
const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_TIMEOUT_MS = 300_000;
/** Largest response body read into the pipeline. */
const MAX_BODY = 32 * 1024 * 1024;
/**
 * Fields the client manages itself: those of the connection and the body's framing (http-fields.ts), and
 * `expect`, which the data given decides.
 */
const MANAGED_FIELDS: ReadonlySet<string> = new Set([...CONNECTION_FIELDS, "expect"]);

/** A transport failure: no connection, a timeout, a reset. A flow failure, answered 503 at the top. */
export class HttpTransportError extends ConduitError {
  constructor(message: string, cause?: unknown) {
    super(503, "http_transport_failure", message, { cause, headers: { "retry-after": "5" } });
  }
}

/** A pooled HTTP client for pub.client:http (keep-alive connections per origin). */
export function createHttpAgent(): Agent {
  return new Agent({ connections: 64, keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 });
}

/** Largest PEM input (a certificate chain or a trust store). */
const MAX_PEM = 256 * 1024;

/** The TLS material of one call: a client certificate (chain) and its key, and the CAs to trust. */
interface TlsMaterial {
  cert?: string;
  key?: string;
  ca?: string;
}

/**
 * Two-way TLS inputs (issue 9): `clientCertificate` (PEM, may hold a chain, leaf first) with `clientKey`
 * (PEM), and `trustStore` (PEM CA bundle trusted instead of the system roots). Checked before anything is
 * sent: a certificate that does not parse, or a key that is not the certificate's, is a 400.
 */
function tlsOf(input: Record<string, unknown>): TlsMaterial | undefined {
  const pem = (field: string): string | undefined => {
    const value = input[field];
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value !== "string") throw invalid(field, "must be PEM text");
    if (value.length > MAX_PEM) throw invalid(field, `must be at most ${MAX_PEM} characters`);
    return value;
  };
  const cert = pem("clientCertificate");
  const key = pem("clientKey");
  const ca = pem("trustStore");
  if (cert === undefined && key === undefined && ca === undefined) return undefined;
  if ((cert === undefined) !== (key === undefined))
    throw invalid(cert === undefined ? "clientCertificate" : "clientKey", "is required with the other");
  const parse = <T>(field: string, read: () => T): T => {
    try {
      return read();
    } catch (error) {
      throw invalid(field, (error as Error).message);
    }
  };
  if (ca !== undefined) parse("trustStore", () => parseCertificates(ca));
  if (cert !== undefined && key !== undefined) {
    const [leaf] = parse("clientCertificate", () => parseCertificates(cert));
    const privateKey = parse("clientKey", () => parsePrivateKey(key));
    if (!keyMatchesCertificate(privateKey, leaf!))
      throw invalid("clientKey", "is not the key of clientCertificate (its first certificate)");
  }
  return { ...(cert ? { cert, key } : {}), ...(ca ? { ca } : {}) };
}

/**
 * Connections presenting one client certificate (or trusting one store) are pooled apart from the others,
 * so a connection opened with one identity never carries a call made with another. Agents are kept for a
 * few minutes per identity (the cache key is a digest, never the key itself) and closed when dropped.
 */
const tlsAgents = new LRUCache<string, Agent>({
  max: 32,
  ttl: 5 * 60_000,
  ttlAutopurge: true,
  dispose: (agent) => void agent.close().catch(() => undefined),
});

function tlsDispatcher(tls: TlsMaterial): Agent {
  const id = sha256(JSON.stringify([tls.cert ?? "", tls.key ?? "", tls.ca ?? ""]));
  let agent = tlsAgents.get(id);
  if (!agent) {
    agent = new Agent({
      connections: 16,
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 60_000,
      connect: { ...tls },
    });
    tlsAgents.set(id, agent);
  }
  return agent;
}

function invalid(field: string, why: string): BadRequestError {
  return new BadRequestError("invalid_input", `${field} ${why}`, { field });
}

type Pairs = [string, string][];

/** `args`: a document name → value (a list of values repeats the name), or rows of {name, value}. */
function pairsOf(value: unknown, field: string): Pairs {
  if (value === undefined || value === null) return [];
  const out: Pairs = [];
  const add = (name: unknown, v: unknown) => {
    if (typeof name !== "string" || name === "") throw invalid(field, "has a row without a name");
    if (Array.isArray(v)) for (const item of v) out.push([name, scalar(item)]);
    else out.push([name, scalar(v)]);
  };
  if (Array.isArray(value)) {
    for (const row of value) {
      if (Array.isArray(row)) add(row[0], row[1]);
      else if (row && typeof row === "object")
        add((row as { name?: unknown }).name, (row as { value?: unknown }).value);
      else throw invalid(field, "rows must be [name, value] or {name, value}");
    }
  } else if (typeof value === "object") {
    for (const [name, v] of Object.entries(value)) add(name, v);
  } else throw invalid(field, "must be a document or a table");
  return out;
}

function scalar(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

interface Body {
  query: string;
  body: string | Buffer | undefined;
  form: boolean;
}

/**
 * `data`: args, then table (URL-encoded: into the query for GET and HEAD, else a form body), then string,
 * appended in that order; `bytes` is the body when none of those is given.
 */
function bodyOf(method: string, data: unknown): Body {
  if (data === undefined || data === null) return { query: "", body: undefined, form: false };
  if (typeof data !== "object" || Array.isArray(data)) throw invalid("data", "must be a document");
  const d = data as Record<string, unknown>;
  const encoded = new URLSearchParams([
    ...pairsOf(d.args, "data/args"),
    ...pairsOf(d.table, "data/table"),
  ]).toString();
  const text = d.string === undefined || d.string === null ? "" : scalar(d.string);
  const inQuery = method === "get" || method === "head";
  if (encoded || text) {
    const joined = encoded && text ? `${encoded}&${text}` : encoded || text;
    return inQuery
      ? { query: joined, body: undefined, form: false }
      : { query: "", body: joined, form: Boolean(encoded) };
  }
  if (d.bytes !== undefined && d.bytes !== null) {
    if (inQuery) throw invalid("data/bytes", `cannot be sent with ${method.toUpperCase()}`);
    if (d.bytes instanceof Uint8Array) return { query: "", body: Buffer.from(d.bytes), form: false };
    if (typeof d.bytes === "string") return { query: "", body: Buffer.from(d.bytes, "base64"), form: false };
    throw invalid("data/bytes", "must be bytes");
  }
  return { query: "", body: undefined, form: false };
}

/** A header value as given, refused (400, never sent) unless it is a valid field value: no header injection. */
function fieldValue(field: string, value: unknown, label = field): string {
  const text = scalar(value);
  if (!FIELD_VALUE.test(text))
    throw new BadRequestError(
      "invalid_input",
      `${label} must be one line of visible characters (RFC 9110 §5.5)`,
      { field },
    );
  return text;
}

function headersOf(input: Record<string, unknown>, form: boolean): Record<string, string> {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  const given = input.headers;
  if (given !== undefined && given !== null) {
    if (typeof given !== "object" || Array.isArray(given)) throw invalid("headers", "must be a document");
    for (const [name, value] of Object.entries(given)) {
      if (!FIELD_NAME.test(name)) throw invalid("headers", "has an invalid header name (RFC 9110 §5.1)");
      const lower = name.toLowerCase();
      if (MANAGED_FIELDS.has(lower)) throw invalid("headers", `may not set ${lower}: the client manages it`);
      headers[lower] = fieldValue("headers", value, `header ${lower}`);
    }
  }
  if (form && !headers["content-type"]) headers["content-type"] = "application/x-www-form-urlencoded";
  const auth = input.auth as Record<string, unknown> | undefined;
  if (auth !== undefined && auth !== null) {
    if (typeof auth !== "object") throw invalid("auth", "must be a document");
    const type = String(auth.type ?? "basic").toLowerCase();
    if (type === "basic") {
      // RFC 7617 §2: the user-id cannot contain a colon.
      if (scalar(auth.user).includes(":")) throw invalid("auth/user", "must not contain a colon");
      headers.authorization = `Basic ${Buffer.from(`${scalar(auth.user)}:${scalar(auth.pass)}`).toString("base64")}`;
    } else if (type === "bearer") {
      const token = fieldValue("auth/token", auth.token);
      if (!token) throw invalid("auth/token", "is required for bearer");
      headers.authorization = `Bearer ${token}`;
    } else throw invalid("auth/type", "must be basic or bearer");
  }
  return headers;
}

function targetOf(urlText: string, query: string): URL {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw invalid("url", "is not a valid absolute URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw invalid("url", "must be http or https");
  if (query) url.search = url.search ? `${url.search}&${query}` : `?${query}`;
  return url;
}

async function readBody(body: Dispatcher.ResponseData["body"]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) {
      body.destroy();
      throw new Error(`the response body is larger than ${MAX_BODY} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * pub.client:http, as in Integration Server: url, method, loadAs (bytes or stream), data (args, table,
 * string, bytes), auth (basic or bearer), headers, timeout (ms) → header {status, statusMessage, lines}
 * and body {bytes | stream}. A non-2xx status is an output; a transport failure throws (503). Redirects
 * are not followed (a 3xx is an output, with its Location in header/lines). Two-way TLS: clientCertificate
 * and clientKey (PEM) are presented to the server, trustStore (PEM) replaces the system roots; a refused
 * handshake is a transport failure. The key is masked in traces (src/services/masking.ts).
 */
export function clientServices(dispatcher: Dispatcher): ServiceDefinition[] {
  return [
    defineService({
      name: "pub.client:http",
      description: "Sends an HTTP request; answers the status, headers and body.",
      signature: {
        input: [
          { name: "url", type: "string", required: true },
          { name: "method", type: "string" },
          { name: "loadAs", type: "string" },
          { name: "data", type: "object" },
          { name: "auth", type: "object" },
          { name: "headers", type: "object" },
          { name: "timeout", type: "integer" },
          {
            name: "clientCertificate",
            type: "string",
            description: "PEM client certificate (chain, leaf first) for two-way TLS",
          },
          {
            name: "clientKey",
            type: "string",
            description: "PEM private key of clientCertificate (secret: masked in traces)",
          },
          {
            name: "trustStore",
            type: "string",
            description: "PEM CA certificates trusted for the server (instead of the system roots)",
          },
        ],
        output: [
          { name: "header", type: "object" },
          { name: "body", type: "object" },
        ],
      },
      run: async (input) => {
        const method = String(input.method ?? "get").toLowerCase();
        if (!METHODS.has(method)) throw invalid("method", `must be one of ${[...METHODS].join(", ")}`);
        const loadAs = String(input.loadAs ?? "bytes");
        if (loadAs !== "bytes" && loadAs !== "stream") throw invalid("loadAs", "must be bytes or stream");
        const timeout = (input.timeout as number | undefined) ?? DEFAULT_TIMEOUT_MS;
        if (timeout < 1 || timeout > MAX_TIMEOUT_MS)
          throw invalid("timeout", `must be 1 to ${MAX_TIMEOUT_MS} ms`);
        const { query, body, form } = bodyOf(method, input.data);
        const url = targetOf(String(input.url), query);
        const headers = headersOf(input, form);
        const tls = tlsOf(input);
        if (tls && url.protocol !== "https:")
          throw invalid("url", "must be https with clientCertificate or trustStore");

        let response: Dispatcher.ResponseData;
        let bytes: Buffer;
        try {
          response = await request(url, {
            dispatcher: tls ? tlsDispatcher(tls) : dispatcher,
            method: method.toUpperCase() as Dispatcher.HttpMethod,
            headers,
            ...(body === undefined ? {} : { body }),
            headersTimeout: timeout,
            bodyTimeout: timeout,
            signal: AbortSignal.timeout(timeout),
          });
          bytes = await readBody(response.body);
        } catch (error) {
          const reason = (error as { code?: string }).code ?? (error as Error).name ?? "error";
          throw new HttpTransportError(
            `pub.client:http could not complete the request to ${url.origin}: ${reason} (${(error as Error).message})`,
            error,
          );
        }
        const lines: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(response.headers))
          if (value !== undefined) lines[name] = value;
        const header = {
          status: response.statusCode,
          statusMessage: STATUS_CODES[response.statusCode] ?? "",
          lines,
        };
        if (loadAs === "stream")
          return {
            header,
            body: { stream: Object.assign(Readable.from([bytes]), { toJSON: () => "[stream]" }) },
          };
        return { header, body: { bytes } };
      },
    }),
  ];
}
