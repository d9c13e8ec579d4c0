import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import { describe, expect, it } from "vitest";
import { KyselyTokenRepository, TOKEN_COLUMNS, toRow, type TokenRecord } from "../../src/oauth/tokens.js";
import type { Database } from "../../src/storage/schema.js";

/**
 * The token INSERT whose SQL is kept per row count (KyselyTokenRepository.insertQuery) is the very query
 * Kysely compiles for the same rows, on both dialects: the same SQL and the same values in the same order.
 * (On PostgreSQL most batches go as one JSON parameter instead: test/oauth/repositories.test.ts stores
 * and reads back such batches.)
 */
describe("the kept INSERT of token rows", () => {
  const token = (i: number, partial: Partial<TokenRecord> = {}): TokenRecord => ({
    id: `id-${i}`,
    digest: `digest-${i}`,
    kind: i % 2 ? "access" : "refresh",
    clientId: `client-${i % 3}`,
    username: i % 4 ? `user-${i}` : undefined,
    scopes: i % 5 ? ["a", "b"] : [],
    grantId: `grant-${i}`,
    issuedAt: 1_000 + i,
    expiresAt: i % 6 ? 2_000 + i : undefined,
    revokedAt: i % 7 ? undefined : 3_000 + i,
    refreshCount: i,
    rotatedAt: i % 8 ? undefined : 4_000 + i,
    certificateThumbprint: i % 9 ? undefined : `x5t-${i}`,
    ...partial,
  });

  const dialects = {
    sqlite: () => new SqliteDialect({ database: new SQLite(":memory:") }),
    // Compiling needs no connection: the pool is never asked for one.
    postgres: () =>
      new PostgresDialect({
        pool: async () => {
          throw new Error("no connection is needed to compile");
        },
      }),
  };

  it("writes every column of a row, in TOKEN_COLUMNS' order", () => {
    expect(Object.keys(toRow(token(1)))).toEqual([...TOKEN_COLUMNS]);
  });

  for (const [name, dialect] of Object.entries(dialects))
    it(`is Kysely's own query on ${name}, for batches kept and not kept, again and again`, () => {
      const db = new Kysely<Database>({ dialect: dialect() });
      const repository = new KyselyTokenRepository(db);
      for (const size of [1, 3, 50, 1, 100, 101, 3]) {
        // On PostgreSQL only a batch whose JSON would hold an escaped lone surrogate takes VALUES.
        const tokens = Array.from({ length: size }, (_, i) =>
          token(i + size, name === "postgres" ? { username: "lone \ud800" } : {}),
        );
        const kept = repository.insertQuery(tokens);
        const kysely = db.insertInto("oauth_tokens").values(tokens.map(toRow)).compile();
        expect(kept.sql).toBe(kysely.sql);
        expect(kept.parameters).toEqual(kysely.parameters);
      }
      if (name === "postgres") {
        // Any other batch is one JSON parameter, of the rows as toRow writes them.
        const tokens = [token(1), token(2)];
        const json = repository.insertQuery(tokens);
        expect(json.sql).toContain('from json_populate_recordset(null::"oauth_tokens", $1::json)');
        expect(json.parameters).toEqual([JSON.stringify(tokens.map(toRow))]);
      }
    });
});
