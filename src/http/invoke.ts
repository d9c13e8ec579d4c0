import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Conduit } from "../conduit.js";
import { BadRequestError, NotFoundError } from "../kernel/errors.js";
import { MAX_DOCUMENT_DEPTH, nestsDeeperThan } from "../services/depth.js";
import type { Pipeline, ResponseControl, TransportInfo } from "../services/types.js";
import { authenticate } from "./auth.js";

/**
 * `GET|POST /invoke/{folder.sub}/{service}` and `/invoke/{folder.sub}:{service}`: the input pipeline is
 * the query merged with a JSON or form body (the body wins), the answer the output pipeline as JSON.
 */
export async function invokeRoutes(app: FastifyInstance, { conduit }: { conduit: Conduit }): Promise<void> {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const name = serviceNameFromPath((request.params as { "*": string })["*"]);
    const principal = await authenticate(conduit, request);
    const response: ResponseControl = { headers: {} };
    const output = await conduit.runtime.invoke(name, inputOf(request), {
      principal,
      transport: new HttpTransport(request),
      response,
    });
    reply.headers(response.headers);
    if (response.status) reply.code(response.status);
    return reply.type(JSON_TYPE).send(outputJson(output));
  };
  app.get("/invoke/*", handler);
  app.post("/invoke/*", handler);
  // Another method on a service is the wrong method (405 naming the right ones), not an unknown route.
  app.route({
    method: ["PUT", "DELETE", "PATCH"],
    url: "/invoke/*",
    handler: async (request, reply) =>
      reply
        .code(405)
        .header("allow", "GET, POST")
        .send({ error: "method_not_allowed", message: `${request.method} is not allowed: use GET or POST` }),
  });
}

export const JSON_TYPE = "application/json; charset=utf-8";

/** The output pipeline as the JSON text of the answer (bytes as base64). */
export function outputJson(output: Pipeline): string {
  return containsBytes(output, 0) ? JSON.stringify(output, jsonReplacer) : JSON.stringify(output);
}

/**
 * Paths already turned into service names (only valid ones), so that a client calling the same services
 * again does not have each name derived and checked again: a Map look-up instead of a search, a slice, a
 * concatenation and a regular expression (issue 10). Bounded: emptied when full, so a client sending ever
 * new paths holds at most MAX_KNOWN_PATHS of them (each at most the router's maxParamLength, 1024).
 */
const knownPaths = new Map<string, string>();
const MAX_KNOWN_PATHS = 1024;

/** `a.b/c` or `a.b:c` → `a.b:c`. Folder and service names are case-sensitive, as in IS. */
export function serviceNameFromPath(decoded: string): string {
  const known = knownPaths.get(decoded);
  if (known !== undefined) return known;
  // The router has decoded the path already (a bad percent-encoding is its 400): never decode twice.
  const slash = decoded.lastIndexOf("/");
  const name = decoded.includes(":")
    ? decoded
    : slash > 0
      ? `${decoded.slice(0, slash)}:${decoded.slice(slash + 1)}`
      : "";
  if (!/^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*:[A-Za-z_][\w-]*$/.test(name))
    throw new NotFoundError("service_not_found", `"${decoded}" is not a service name (folder.sub/service)`);
  if (knownPaths.size >= MAX_KNOWN_PATHS) knownPaths.clear();
  knownPaths.set(decoded, name);
  return name;
}

function inputOf(request: FastifyRequest): Pipeline {
  const query = request.query as Record<string, unknown>;
  const body = request.body;
  if (body === undefined || body === null || body === "") return { ...query };
  if (typeof body !== "object" || Array.isArray(body) || Buffer.isBuffer(body))
    throw new BadRequestError("invalid_body", "the request body must be a JSON object or a form");
  if (nestsDeeperThan(body))
    throw new BadRequestError(
      "input_too_deep",
      `the input nests documents more than ${MAX_DOCUMENT_DEPTH} levels deep`,
    );
  return { ...query, ...(body as Pipeline) };
}

const HIDDEN_HEADERS = new Set(["authorization", "cookie", "proxy-authorization"]);

/** What the transport reads of a request: Fastify's request, or node:http's on the fast path. */
export interface TransportSource {
  readonly method: string;
  readonly ip: string | undefined;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** The transport as services see it, built lazily: most services never look at it. */
export class HttpTransport implements TransportInfo {
  readonly protocol = "http";
  private cachedHeaders: Record<string, string> | undefined;
  constructor(private readonly request: TransportSource) {}

  get method(): string {
    return this.request.method;
  }
  get ip(): string {
    return this.request.ip ?? "";
  }
  get path(): string {
    return this.request.url.split("?")[0] ?? "";
  }
  get headers(): Record<string, string> {
    if (!this.cachedHeaders) {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(this.request.headers))
        if (!HIDDEN_HEADERS.has(name) && value !== undefined)
          headers[name] = Array.isArray(value) ? value.join(", ") : value;
      this.cachedHeaders = headers;
    }
    return this.cachedHeaders;
  }
  toJSON(): TransportInfo {
    return { protocol: "http", method: this.method, path: this.path, ip: this.ip, headers: this.headers };
  }
}

/** Bytes travel as base64 text in JSON. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (
    value &&
    typeof value === "object" &&
    (value as { type?: string }).type === "Buffer" &&
    Array.isArray((value as { data?: unknown }).data)
  )
    return Buffer.from((value as { data: number[] }).data).toString("base64");
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return value;
}

/** Whether a pipeline holds bytes anywhere (only then is the slower replacer needed). */
function containsBytes(value: unknown, depth: number): boolean {
  if (value instanceof Uint8Array) return true;
  if (depth > 64 || value === null || typeof value !== "object") return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (containsBytes(value[i], depth + 1)) return true;
    return false;
  }
  // for…in, not Object.values: no array built per object on every answer. It also visits inherited
  // enumerable properties, which JSON.stringify leaves out; a byte value found there only means the
  // replacer runs, and the JSON is the same.
  for (const key in value) if (containsBytes((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}
