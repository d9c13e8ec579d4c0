import { mkdirSync } from "node:fs";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { LRUCache } from "lru-cache";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import type { Database } from "./schema.js";

export type Dialect = "sqlite" | "postgres";

export interface Storage {
  db: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

/** PostgreSQL returns int8 as text by default; our times are milliseconds, well inside 2^53. */
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export function openSqlite(file: string): Storage {
  if (file !== ":memory:") mkdirSync(join(file, ".."), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return { db, dialect: "sqlite", close: () => db.destroy() };
}

/**
 * Kysely prepares every query anew; better-sqlite3 statements can be reused, and preparing costs more than
 * running a small insert. The API is synchronous, so a statement has finished before it is handed out
 * again (Kysely iterates, and would keep one busy, only for streamed queries, which Conduit never uses).
 */
function withStatementCache(sqlite: SQLite.Database): SQLite.Database {
  const statements = new LRUCache<string, SQLite.Statement>({ max: 500 });
  return new Proxy(sqlite, {
    get(target, property, receiver) {
      if (property !== "prepare") return Reflect.get(target, property, receiver) as unknown;
      return (sql: string) => {
        let statement = statements.get(sql);
        if (!statement) statements.set(sql, (statement = target.prepare(sql)));
        return statement;
      };
    },
  });
}

export function openPostgres(
  connectionString: string,
  options: { max?: number; connectTimeoutMs?: number } = {},
): Storage {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    // A database that does not answer must not hold requests (or a SIGTERM drain) forever: a connection
    // not made in time fails, and is answered 503 (src/storage/failures.ts). Keep-alive notices a peer
    // that vanished mid-connection.
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    keepAlive: true,
  });
  // A client losing its connection must not crash the server. The pool listens to idle clients (and
  // replaces them); a client checked out for a query would emit an unhandled 'error' event, an uncaught
  // exception, on top of rejecting the query: every client gets a listener of its own.
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: "postgres", close: () => db.destroy() };
}

/** SQLite file under the data dir unless DATABASE_URL names a PostgreSQL database. */
export function openStorage(options: { databaseUrl: string | undefined; dataDir: string }): Storage {
  return options.databaseUrl
    ? openPostgres(options.databaseUrl)
    : openSqlite(join(options.dataDir, "conduit.sqlite"));
}
