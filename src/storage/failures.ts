/**
 * What a database error means for the caller, whichever database raised it: the database cannot be
 * reached or is busy (`unavailable`: try again later), or a concurrent write got there first
 * (`conflict`: a unique or foreign key constraint). Anything else is a bug, and stays a 500.
 */
export type DatabaseFailure = "unavailable" | "conflict";

/** Socket errors of a connection that cannot be made or was lost. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
]);

/**
 * PostgreSQL SQLSTATEs (Appendix A of its manual): class 08 connection exception, 53 insufficient
 * resources, 57P01-57P03 the server shutting down or starting, 57014 a statement cancelled by its
 * statement_timeout (src/storage/database.ts: the database is too slow to answer in time), 40001/40P01 a
 * serialization failure or deadlock that a retry resolves.
 */
const PG_UNAVAILABLE = /^(08...|53...|57P0[123]|57014|40001|40P01)$/;
const PG_CONFLICT = new Set(["23505", "23503"]);

/**
 * Messages of node-postgres for a connection it lost or could not make in time, or a query the server did
 * not answer within query_timeout (they carry no code).
 */
const PG_CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout|Client was closed and is not queryable)/;

const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED)/;
const SQLITE_CONFLICT = /^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY|FOREIGNKEY)$/;

export function databaseFailure(error: unknown): DatabaseFailure | undefined {
  if (!(error instanceof Error)) return undefined;
  if (error instanceof AggregateError)
    return error.errors.some((e) => databaseFailure(e) === "unavailable") ? "unavailable" : undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (NETWORK_CODES.has(code) || PG_UNAVAILABLE.test(code) || SQLITE_UNAVAILABLE.test(code))
      return "unavailable";
    if (PG_CONFLICT.has(code) || SQLITE_CONFLICT.test(code)) return "conflict";
  }
  return PG_CONNECTION_MESSAGES.test(error.message) ? "unavailable" : undefined;
}
