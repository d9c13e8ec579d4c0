import type { FastifyInstance } from "fastify";

/** A parsed form: a name sent more than once keeps every value, in order. */
export type FormBody = Record<string, string | string[]>;

/** application/x-www-form-urlencoded (WHATWG URL standard parsing, as browsers send it). */
export function parseForm(text: string): FormBody {
  // No prototype, so that no name (`__proto__`, `constructor`) means anything but a parameter. Made from
  // `{}` rather than Object.create(null), whose objects V8 keeps in dictionary mode: reading and walking
  // those cost several times more, on every OAuth request (issue 10).
  const out = Object.setPrototypeOf({}, null) as FormBody;
  for (const [name, value] of new URLSearchParams(text)) {
    const existing = out[name];
    if (existing === undefined) out[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[name] = [existing, value];
  }
  return out;
}

export function registerFormParser(app: FastifyInstance): void {
  // JSON as Fastify parses it (prototype poisoning refused), except that an empty body is no body, as
  // if none had been sent: `curl -H 'content-type: application/json' -X POST …/secret` just works.
  // Bodies are JSON or forms: text/plain is refused with 415 like any other media type, not taken as a
  // string that the routes would then refuse with a different error.
  app.removeContentTypeParser("text/plain");
  const json = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if ((body as string).trim() === "") done(null, undefined);
    else json(request, body as string, done);
  });
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string" },
    (_request, body, done) => {
      done(null, parseForm(body as string));
    },
  );
}
