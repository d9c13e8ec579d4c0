import { BadRequestError } from "../kernel/errors.js";
import type { FieldSpec, Pipeline } from "./types.js";

/**
 * Checks a pipeline against a signature's inputs and converts what HTTP delivers as text (query strings,
 * forms) to the declared types. A missing or mistyped input is a 400 that names the field.
 */
export function checkInputs(fields: FieldSpec[], input: Pipeline): Pipeline {
  const out: Pipeline = { ...input };
  for (const field of fields) {
    const value = input[field.name];
    if (value === undefined || value === null || value === "") {
      if (field.required) throw missing(field.name);
      if (value === "" && field.type !== "string" && field.type !== "any") delete out[field.name];
      continue;
    }
    out[field.name] = coerce(field, value);
  }
  return out;
}

function missing(name: string): BadRequestError {
  return new BadRequestError("missing_input", `missing required input "${name}"`, { field: name });
}

function mistyped(field: FieldSpec, why: string): BadRequestError {
  return new BadRequestError("invalid_input", `input "${field.name}" ${why}`, { field: field.name });
}

function coerce(field: FieldSpec, value: unknown): unknown {
  switch (field.type) {
    case "any":
      return value;
    case "string":
      if (typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean") return String(value);
      throw mistyped(field, "must be a string");
    case "number": {
      const n = typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : NaN;
      if (!Number.isFinite(n) || (typeof value === "string" && value.trim() === ""))
        throw mistyped(field, "must be a number");
      return n;
    }
    case "integer": {
      const n =
        typeof value === "number"
          ? value
          : typeof value === "string" && /^\s*[-+]?\d+\s*$/.test(value)
            ? Number(value)
            : NaN;
      if (!Number.isSafeInteger(n)) throw mistyped(field, "must be an integer");
      return n;
    }
    case "boolean":
      if (typeof value === "boolean") return value;
      if (value === "true") return true;
      if (value === "false") return false;
      throw mistyped(field, "must be true or false");
    case "object":
      if (typeof value === "object" && !Array.isArray(value) && !(value instanceof Uint8Array)) return value;
      throw mistyped(field, "must be an object");
    case "array":
      if (Array.isArray(value)) return value;
      throw mistyped(field, "must be an array");
    case "bytes":
      if (value instanceof Uint8Array) return value;
      // Over JSON, bytes travel as base64 text (the way the output side writes them).
      if (typeof value === "string" && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value))
        return Buffer.from(value, "base64");
      if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255))
        return Buffer.from(value as number[]);
      throw mistyped(field, "must be bytes (base64 text or an array of octets)");
  }
}
