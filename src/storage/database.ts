import { hash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { LRUCache } from "lru-cache";
import { Kysely, PostgresDialect, SqliteDialect, type PostgresPool, type PostgresPoolClient } from "kysely";
import pg from "pg";
import { CHECKPOINT_DEFAULTS, startCheckpointer } from "./checkpointer.js";
import { databaseFailure } from "./failures.js";
import type { Database } from "./schema.js";

export type Dialect = "sqlite" | "postgres";

export interface Storage {
  db: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

/** PostgreSQL returns int8 as text by default; our times are milliseconds, well inside 2^53. */
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface SqliteOptions {
  /** How often the worker thread checkpoints the WAL (src/storage/checkpointer.ts); tests shorten it. */
  checkpointIntervalMs?: number;
  /** Told when the checkpoint worker fails (the server's in-line checkpoint still bounds the WAL). */
  onCheckpointerError?: (error: Error) => void;
}

export function openSqlite(file: string, options: SqliteOptions = {}): Storage {
  if (file !== ":memory:") mkdirSync(join(file, ".."), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  // Reads through a memory map of the file (up to 1 GiB) instead of a read() per page not in SQLite's own
  // small page cache: with 10^6 tokens a lookup by digest touches pages all over the table. The pages are
  // the kernel's page cache, shared and reclaimable, not the process's heap.
  sqlite.pragma("mmap_size = 1073741824");
  // Checkpoints run in a worker thread (src/storage/checkpointer.ts); the in-line one, rarer, bounds the WAL.
  sqlite.pragma(`wal_autocheckpoint = ${CHECKPOINT_DEFAULTS.autocheckpointPages}`);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  if (file === ":memory:") return { db, dialect: "sqlite", close: () => db.destroy() };
  const checkpointer = startCheckpointer(
    file,
    { intervalMs: options.checkpointIntervalMs },
    options.onCheckpointerError,
  );
  return {
    db,
    dialect: "sqlite",
    // The worker's connection first: the last connection to close checkpoints the whole WAL and removes it.
    close: () => checkpointer.stop().then(() => db.destroy()),
  };
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

/**
 * Bounds of the PostgreSQL pool (issue 11, "database restarts under load"). A request waits at most
 * `connectTimeoutMs` for a connection (a free one of the pool, or a new one being made) and at most
 * `queryTimeoutMs` (+1 s) for each query: past either it fails, and is answered 503 with Retry-After
 * (src/storage/failures.ts), so a database that restarts or vanishes behind a partition never holds a
 * request, or a SIGTERM drain, forever.
 */
export interface PostgresOptions {
  max?: number;
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
  idleTimeoutMs?: number;
}

export const POSTGRES_DEFAULTS = {
  max: 10,
  connectTimeoutMs: 5_000,
  queryTimeoutMs: 5_000,
  idleTimeoutMs: 10_000,
} as const;

export function openPostgres(connectionString: string, options: PostgresOptions = {}): Storage {
  const queryTimeoutMs = options.queryTimeoutMs ?? POSTGRES_DEFAULTS.queryTimeoutMs;
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? POSTGRES_DEFAULTS.max,
    // A connection not made (or not free) in time fails: the request is answered 503.
    connectionTimeoutMillis: options.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs,
    idleTimeoutMillis: options.idleTimeoutMs ?? POSTGRES_DEFAULTS.idleTimeoutMs,
    // A reachable server cancels a statement that runs too long itself (SQLSTATE 57014, the connection
    // stays usable); the client's own timer, a second later, covers a server that no longer answers at all
    // (a partition: no FIN, no RST, the socket looks open).
    statement_timeout: queryTimeoutMs,
    query_timeout: queryTimeoutMs + 1_000,
    // Keep-alive probes notice a peer that vanished under an idle connection within about a minute
    // (10 s idle, then the kernel's probes) instead of the kernel's default two hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // A client losing its connection must not crash the server. The pool listens to idle clients (and
  // replaces them); a client checked out for a query would emit an unhandled 'error' event, an uncaught
  // exception, on top of rejecting the query: every client gets a listener of its own.
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: discardingBroken(pool) }) });
  return { db, dialect: "postgres", close: () => db.destroy() };
}

/**
 * The pool as Kysely sees it, except that a client whose query failed for want of the database (a lost or
 * timed-out connection) is destroyed when released instead of going back to the pool. node-postgres only
 * drops a client whose socket it saw close: after a read timeout the socket of a partitioned connection
 * still looks open, the unanswered query still occupies it, and every later query on it would wait out the
 * timeout again, long after the database is back.
 */
function discardingBroken(pool: pg.Pool): PostgresPool {
  return {
    connect: async () => {
      const client = await pool.connect();
      let broken: unknown;
      let stale = false;
      // Kysely calls query(sql, parameters); cursors (streamed queries) are never used by Conduit.
      const query = (async (sql: string, parameters: ReadonlyArray<unknown>) => {
        // Once broken, later queries on this client (the ROLLBACK of a transaction) fail at once: sent,
        // they would wait behind the unanswered one and time out again, doubling the request's wait.
        if (broken !== undefined) throw broken;
        const name = preparedName(client, sql);
        try {
          return name === undefined
            ? await client.query(sql, parameters as unknown[])
            : await client.query({ name, text: sql, values: parameters as unknown[] });
        } catch (error) {
          if (databaseFailure(error) === "unavailable") broken = error;
          // A table changed under a statement this connection prepared (another node's migration: "cached
          // plan must not change result type"): run it unprepared, and let the connection go afterwards.
          else if (name !== undefined && (error as { code?: string }).code === "0A000") {
            stale = true;
            return await client.query(sql, parameters as unknown[]);
          }
          throw error;
        }
      }) as unknown as PostgresPoolClient["query"];
      return { query, release: () => client.release(broken !== undefined || stale) };
    },
    end: () => pool.end(),
  };
}

/**
 * Named (prepared) statements on PostgreSQL: parsed and planned once per connection instead of on every
 * query, which measured 1.8× the queries per second of unnamed ones for the token lookup's shape. Only the
 * statements of Kysely's queries are named (never transaction control), at most PREPARED_PER_CONNECTION
 * per connection (node-postgres never deallocates them: a bound on what the server keeps) and none longer
 * than PREPARED_MAX_LENGTH (batched inserts of many rows run unprepared).
 */
const PREPARED_PER_CONNECTION = 256;
const PREPARED_MAX_LENGTH = 4096;
const statementNames = new LRUCache<string, string>({ max: 2_000 });
const preparedBy = new WeakMap<object, Set<string>>();
const UNPREPARED =
  /^\s*(begin|commit|rollback|savepoint|release|start|set|reset|listen|unlisten|notify|lock)\b/i;

function preparedName(client: object, sql: string): string | undefined {
  if (sql.length > PREPARED_MAX_LENGTH || UNPREPARED.test(sql)) return undefined;
  let name = statementNames.get(sql);
  if (name === undefined) statementNames.set(sql, (name = `k${sha1(sql)}`));
  let names = preparedBy.get(client);
  if (!names) preparedBy.set(client, (names = new Set()));
  if (!names.has(name)) {
    if (names.size >= PREPARED_PER_CONNECTION) return undefined;
    names.add(name);
  }
  return name;
}

const sha1 = (text: string) => hash("sha1", text, "base64url").slice(0, 20);

/** SQLite file under the data dir unless DATABASE_URL names a PostgreSQL database. */
export function openStorage(
  options: {
    databaseUrl: string | undefined;
    dataDir: string;
    databasePoolSize?: number;
  },
  sqlite: SqliteOptions = {},
): Storage {
  return options.databaseUrl
    ? openPostgres(options.databaseUrl, { max: options.databasePoolSize ?? POSTGRES_DEFAULTS.max })
    : openSqlite(join(options.dataDir, "conduit.sqlite"), sqlite);
}
