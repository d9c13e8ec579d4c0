import { BadRequestError } from "../kernel/errors.js";

/** Small checks for admin API bodies: each failure is a 400 that names the field. */
export type Body = Record<string, unknown>;

export function asBody(value: unknown): Body {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new BadRequestError("invalid_body", "the request body must be a JSON object");
  return value as Body;
}

function invalid(field: string, why: string): BadRequestError {
  return new BadRequestError("invalid_field", `${field} ${why}`, { field });
}

export function str(
  body: Body,
  field: string,
  options: { required?: boolean; max?: number; pattern?: RegExp; min?: number } = {},
): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    if (options.required) throw invalid(field, "is required");
    return undefined;
  }
  if (typeof value !== "string") throw invalid(field, "must be a string");
  if (options.required && value.trim() === "") throw invalid(field, "must not be empty");
  if (value.length > (options.max ?? 4096))
    throw invalid(field, `must be at most ${options.max ?? 4096} characters`);
  if (options.min !== undefined && value.length < options.min)
    throw invalid(field, `must be at least ${options.min} characters`);
  if (options.pattern && !options.pattern.test(value))
    throw invalid(field, "has characters that are not allowed");
  return value;
}

export function requiredStr(
  body: Body,
  field: string,
  options: { max?: number; pattern?: RegExp; min?: number } = {},
): string {
  return str(body, field, { ...options, required: true })!;
}

export function strList(
  body: Body,
  field: string,
  options: { required?: boolean; max?: number } = {},
): string[] | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    if (options.required) throw invalid(field, "is required");
    return undefined;
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string" && v.length > 0 && v.length <= 1024))
    throw invalid(field, "must be an array of non-empty strings");
  if (value.length > (options.max ?? 1000))
    throw invalid(field, `must have at most ${options.max ?? 1000} entries`);
  return [...new Set(value as string[])];
}

export function bool(body: Body, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw invalid(field, "must be true or false");
  return value;
}

export function int(
  body: Body,
  field: string,
  options: { min?: number; max?: number } = {},
): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw invalid(field, "must be an integer");
  if (options.min !== undefined && value < options.min)
    throw invalid(field, `must be at least ${options.min}`);
  if (options.max !== undefined && value > options.max)
    throw invalid(field, `must be at most ${options.max}`);
  return value;
}

/** Refuses fields the resource does not have, so a typo is not silently ignored. */
export function onlyFields(body: Body, allowed: readonly string[]): void {
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0)
    throw new BadRequestError(
      "unknown_field",
      `unknown field${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`,
      {
        fields: unknown,
      },
    );
}

/** Names of users, groups, ACLs: printable, no colon (it would break HTTP Basic), no control characters. */
export const NAME = /^[^\s:\p{Cc}][^:\p{Cc}]*$/u;
