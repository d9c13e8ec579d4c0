import { STATUS_CODES } from "node:http";
import { CONNECTION_FIELDS, FIELD_NAME, FIELD_VALUE } from "../http-fields.js";
import { Readable } from "node:stream";
import { Agent, request, type Dispatcher } from "undici";
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
 * are not followed (a 3xx is an output, with its Location in header/lines).
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

        let response: Dispatcher.ResponseData;
        let bytes: Buffer;
        try {
          response = await request(url, {
            dispatcher,
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
