import { invalidRequest, OAuthError } from "./errors.js";
import type { OAuthRequest, Params } from "./request.js";

/** The longest parameter value accepted; longer ones are invalid_request, never a database lookup. */
export const MAX_PARAM_LENGTH = 4096;

/**
 * The parameters of a POST endpoint. RFC 6749 §3.2 (and RFC 7662 §2.1, RFC 7009 §2.1): the body is
 * application/x-www-form-urlencoded; the IS names also take JSON, as /invoke does.
 */
export function postParams(request: OAuthRequest): Params {
  if (request.bodyType === "other" || (request.bodyType === "json" && !request.mergeQuery))
    throw new OAuthError(
      "invalid_request",
      "the request body must be application/x-www-form-urlencoded",
      request.bodyType === "other" ? 415 : 400,
    );
  return request.mergeQuery ? merge(request.query, request.body) : request.body;
}

/** Query and body together (a name in both counts as repeated). */
export function merge(query: Params, body: Params): Params {
  const out: Params = Object.create(null) as Params;
  for (const source of [query, body])
    for (const [name, value] of Object.entries(source)) {
      const existing = out[name];
      out[name] =
        existing === undefined ? value : ([] as string[]).concat(existing, value as string | string[]);
    }
  return out;
}

/**
 * One parameter. RFC 6749 §3.1, §3.2: parameters "MUST NOT be included more than once"; an empty value
 * counts as absent (§3.1 "Parameters sent without a value MUST be treated as if they were omitted").
 */
export function param(params: Params, name: string, options: { max?: number } = {}): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw invalidRequest(`${name} must not be repeated`);
  if (value.length > (options.max ?? MAX_PARAM_LENGTH)) throw invalidRequest(`${name} is too long`);
  return value === "" ? undefined : value;
}

export function requiredParam(params: Params, name: string, options: { max?: number } = {}): string {
  const value = param(params, name, options);
  if (value === undefined) throw invalidRequest(`${name} is required`);
  return value;
}

/** Every parameter present once at most (checked up front so no step reads a repeated one). */
export function refuseRepeated(params: Params): void {
  for (const name in params)
    if (Array.isArray(params[name])) throw invalidRequest(`${name} must not be repeated`);
}
