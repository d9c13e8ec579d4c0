// Cost growth (issue 10): Conduit's token store filled with 10^3, 10^5 and 10^6 active access tokens, then
// bearer /invoke, RFC 7662 introspection of stored tokens and introspection of unknown tokens measured with a
// token drawn at random from the whole filled set for every request (autocannon's setupRequest), so neither
// the per-connection memory of the bearer authenticator (one header per connection) nor the token cache
// makes the figures look flat; then bearer /invoke while the sweep deletes 10^5 expired rows.
//
// The rows are written straight into the database, in one statement per size: each is a clone of the row
// of one token issued through /oauth2/token (same client, user, scopes and columns), with its own id, its
// own grant (and an oauth_grants row if the template's grant has one: a client_credentials token's has none, as
// issuance writes none for a new grant) and the digest of a token that this process can rebuild for any i
// (cloneToken: of the form Conduit issues, a 9-character prefix that orders tokens by issue time, and so
// their digests in the index, as a real store's are, with the expired rows older than the live ones).
// On PostgreSQL the rows come from generate_series with the digest computed in SQL, followed by
// VACUUM ANALYZE (what autovacuum would do for a table that grew so); on SQLite from a recursive CTE with the
// digest computed by a JavaScript function registered on the connection.
//
// Conduit's own caches, as found in src/ when this was written: the access-token cache of TokenStore
// (src/oauth/token-store.ts: LRU, 100 000 entries, 60 s on SQLite, 5 s on PostgreSQL) and the
// bearer authenticator's per-connection memory of the last header (src/resource/bearer.ts). The token cache
// is turned off here (CONDUIT_TOKEN_CACHE_SIZE=0): with it, 10^3 tokens would all be answered from memory
// and 10^6 mostly from the store, and the curve would compare the cache with the store rather than the
// store at two sizes. The unknown-token introspection is never cached: it measures the digest index alone.
//
// The sweep: the background one runs every `sweepIntervalSeconds` (OAuth settings, default 300), but its
// timer is set from the value read when the previous sweep ran, so a new interval takes effect only after
// the next sweep; the scenario calls the same removeExpired() through pub.oauth:removeExpiredAccessTokens
// instead, a quarter into the measured run.
//
// BENCH_SCALING_SIZES (default 1000,100000,1000000), BENCH_SCALING_ROUNDS (best of, default 3: one round of 10 s swung by 20 % on the 2-core machine),
// BENCH_SWEEP_ROWS (default 100000; 0 leaves the sweep out), BENCH_SCALING_WORKING_SET (default: the whole
// filled set; N draws from N tokens spread evenly over it, a hot set that a cache can hold at every size).
import { randomBytes } from "node:crypto";
import SQLite from "better-sqlite3";
import pg from "pg";
// The key the server stores a token under (its own function: npm run bench builds dist first).
import { tokenDigest } from "../dist/oauth/ids.js";
import { call } from "./lib.js";
import { flatness, scalingTable, sizeName, sweepTable } from "./report.js";

const SIZES = (process.env.BENCH_SCALING_SIZES ?? "1000,100000,1000000").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_SCALING_ROUNDS ?? 3);
const SWEEP_ROWS = Number(process.env.BENCH_SWEEP_ROWS ?? 100_000);
const WORKING_SET = Number(process.env.BENCH_SCALING_WORKING_SET || Infinity);
const FORM = { "content-type": "application/x-www-form-urlencoded" };
const DAY = 86_400_000;

/**
 * The i-th token of a fill, in the form of Conduit's opaque tokens (src/oauth/ids.ts): a 9-character prefix
 * in [0-9a-z] that orders them, here the era ("a" for the expired rows, "b" for the live ones, so that the
 * expired rows come first as older tokens do) and i, then 43 characters. Conduit stores it under the prefix
 * and the SHA-256 of the whole (tokenDigest): the rows of a fill sit in i order in the digest index, as
 * tokens issued one after the other do, instead of on random pages of it.
 */
const cloneToken = (era, salt, i) => `${era}${String(i).padStart(8, "0")}${`x${salt}x${i}`.padEnd(43, "y")}`;

async function setUp(conduit) {
  const json = { authorization: conduit.adminAuth, "content-type": "application/json" };
  const post = (path, body) =>
    call(`${conduit.url}/admin/api/oauth${path}`, { headers: json, body: JSON.stringify(body) });
  await post("/scopes", { name: "invoke", description: "math services", values: ["pub.math"] });
  const client = (clientName) =>
    post("/clients", {
      clientName,
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["invoke"],
      runAsUser: "Administrator",
    });
  const [app, rs] = [await client("bench-app"), await client("bench-rs")];
  const issued = await call(`${conduit.url}/oauth2/token`, {
    headers: {
      ...FORM,
      authorization: `Basic ${Buffer.from(`${app.clientId}:${app.clientSecret}`).toString("base64")}`,
    },
    body: "grant_type=client_credentials&scope=invoke",
  });
  return {
    rsAuth: `Basic ${Buffer.from(`${rs.clientId}:${rs.clientSecret}`).toString("base64")}`,
    templateDigest: tokenDigest(issued.access_token),
  };
}

/**
 * The SQL that clones the template row for i in [from, to]: {grants, tokens} statements, given the
 * dialect's series (a CTE prefix or a FROM item) and digest expression.
 */
function cloneStatements(dialect, columns, { era, salt, from, to, issuedAt, expiresAt, templateId }) {
  const token =
    dialect === "postgres"
      ? `'${era}' || lpad(series.i::text, 8, '0') || rpad('x${salt}x' || series.i, 43, 'y')`
      : `'${era}' || substr('00000000' || series.i, -8) || substr('x${salt}x' || series.i || '${"y".repeat(43)}', 1, 43)`;
  const digest =
    dialect === "postgres"
      ? `substr(${token}, 1, 9) || rtrim(translate(encode(sha256(convert_to(${token}, 'UTF8')), 'base64'), '+/', '-_'), '=')`
      : `bench_digest(${token})`;
  const values = {
    id: `'bt' || '${salt}' || 'x' || series.i`,
    digest,
    grant_id: `'bg' || '${salt}' || 'x' || series.i`,
    issued_at: String(issuedAt),
    expires_at: String(expiresAt),
  };
  const select = columns.map((c) => values[c] ?? `t."${c}"`).join(", ");
  const prefix =
    dialect === "sqlite"
      ? `WITH RECURSIVE series(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM series WHERE i < ${to}) `
      : "";
  const series = dialect === "sqlite" ? "series" : `generate_series(${from}, ${to}) AS series(i)`;
  return {
    // A family row only where the template has one: client_credentials issuance writes none (its grant
    // is new, TokenRecord.newGrant), a refresh does.
    grants:
      `${prefix}INSERT INTO oauth_grants (grant_id, revoked_at) SELECT ${values.grant_id}, NULL FROM ${series} ` +
      `WHERE EXISTS (SELECT 1 FROM oauth_grants AS g JOIN oauth_tokens AS t ON t.grant_id = g.grant_id WHERE t.id = '${templateId}')`,
    tokens:
      `${prefix}INSERT INTO oauth_tokens (${columns.map((c) => `"${c}"`).join(", ")}) SELECT ${select} ` +
      `FROM ${series} CROSS JOIN (SELECT * FROM oauth_tokens WHERE id = '${templateId}') AS t`,
  };
}

/** Direct access to Conduit's database, next to the running server, to clone token rows fast. */
async function openStore(database) {
  if (database.kind === "sqlite") {
    const db = new SQLite(database.file);
    db.pragma("busy_timeout = 10000");
    db.function("bench_digest", { deterministic: true }, tokenDigest);
    const columns = db.prepare("SELECT name FROM pragma_table_info('oauth_tokens')").pluck().all();
    return {
      idOf: (digest) => db.prepare("SELECT id FROM oauth_tokens WHERE digest = ?").pluck().get(digest),
      clone(options) {
        const sql = cloneStatements("sqlite", columns, options);
        db.transaction(() => {
          db.exec(sql.grants);
          db.exec(sql.tokens);
        })();
        db.pragma("wal_checkpoint(TRUNCATE)");
      },
      count: () => db.prepare("SELECT count(*) FROM oauth_tokens").pluck().get(),
      close: () => db.close(),
    };
  }
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const columns = (
    await client.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'oauth_tokens' AND table_schema = current_schema() ORDER BY ordinal_position",
    )
  ).rows.map((r) => r.column_name);
  return {
    idOf: async (digest) =>
      (await client.query("SELECT id FROM oauth_tokens WHERE digest = $1", [digest])).rows[0]?.id,
    async clone(options) {
      const sql = cloneStatements("postgres", columns, options);
      await client.query("BEGIN");
      await client.query(sql.grants);
      await client.query(sql.tokens);
      await client.query("COMMIT");
      // What autovacuum does to a table that grew by this many inserts (autovacuum_vacuum_insert_threshold):
      // done here, before measuring, so that it cannot run in the middle of a measurement instead.
      await client.query("VACUUM ANALYZE oauth_tokens");
      await client.query("VACUUM ANALYZE oauth_grants");
      // And the checkpoint that the fill's WAL would start (max_wal_size), which would otherwise write its
      // dirty pages out during the measurements; as SQLite's wal_checkpoint above. Superusers (and, from
      // PostgreSQL 15, pg_checkpoint) only: without the right it is left to the server.
      await client.query("CHECKPOINT").catch(() => undefined);
    },
    count: async () => Number((await client.query("SELECT count(*) FROM oauth_tokens")).rows[0].count),
    close: () => client.end(),
  };
}

const best = (results) => results.reduce((a, b) => (b.rps > a.rps ? b : a));

export default async function run(lib) {
  const conduit = await lib.startConduit({ env: { CONDUIT_TOKEN_CACHE_SIZE: "0" } });
  let store;
  try {
    const { rsAuth, templateDigest } = await setUp(conduit);
    store = await openStore(conduit.database);
    const templateId = await store.idOf(templateDigest);
    if (!templateId) throw new Error("the issued token's row was not found");
    const salt = randomBytes(8).toString("hex");
    const token = (i) => cloneToken("b", salt, i);
    let size = 0;
    // The whole filled set, or WORKING_SET tokens spread evenly over it.
    const pick = () => {
      const set = Math.min(size, WORKING_SET);
      return token(Math.floor(Math.random() * set) * Math.floor(size / set));
    };
    const invokeUrl = `${conduit.url}/invoke/pub.math/randomDouble`;
    const introspectUrl = `${conduit.url}/oauth2/introspect`;
    const targets = {
      invoke: {
        url: invokeUrl,
        requests: [{ setupRequest: (req) => ({ ...req, headers: { authorization: `Bearer ${pick()}` } }) }],
      },
      introspect: {
        url: introspectUrl,
        method: "POST",
        headers: { ...FORM, authorization: rsAuth },
        requests: [{ setupRequest: (req) => ({ ...req, body: `token=${pick()}` }) }],
      },
      "introspect unknown": {
        url: introspectUrl,
        method: "POST",
        headers: { ...FORM, authorization: rsAuth },
        requests: [
          { setupRequest: (req) => ({ ...req, body: `token=u${salt}x${Math.floor(Math.random() * 1e12)}` }) },
        ],
      },
    };

    // The first size's figures must not pay for JIT or the PostgreSQL pool's first connections.
    size = 1;
    await lib.measure({ ...targets.invoke, duration: 2 });
    size = 0;

    for (const target of SIZES) {
      const started = performance.now();
      const now = Date.now();
      if (target <= size) throw new Error("BENCH_SCALING_SIZES must grow");
      await store.clone({
        era: "b",
        salt,
        from: size,
        to: target - 1,
        issuedAt: now,
        expiresAt: now + DAY,
        templateId,
      });
      size = target;
      const filled = await store.count();
      console.log(
        `  token store filled to ${sizeName(size)} tokens (${filled} rows) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      // The clones are tokens Conduit answers as active, on both paths.
      const sample = token(size - 1);
      const invoked = await fetch(invokeUrl, { headers: { authorization: `Bearer ${sample}` } });
      const introspected = await call(introspectUrl, {
        headers: { ...FORM, authorization: rsAuth },
        body: `token=${sample}`,
      });
      if (invoked.status !== 200 || introspected.active !== true)
        throw new Error(
          `a cloned token was refused: /invoke ${invoked.status}, active ${introspected.active}`,
        );
      // The first size's figures must not pay for JIT or the PostgreSQL pool's first connections.
      if (target === SIZES[0]) await lib.measure({ ...targets.invoke, duration: 2 });

      for (const [name, options] of Object.entries(targets)) {
        const rounds = [];
        for (let round = 0; round < ROUNDS; round++) rounds.push(await lib.measure(options));
        const m = best(rounds);
        const memory = conduit.memory();
        console.log(
          `scaling ${name} with ${sizeName(size)} tokens stored: ${m.rps.toFixed(0)} req/s (p99 ${m.p99} ms, max ${m.max} ms)${m.errors || m.non2xx ? "  (WARNING: errors or non-2xx answers)" : ""}; Conduit RSS ${lib.mb(memory?.rssKb)}`,
        );
        lib.record("scaling", {
          target: name,
          size,
          distinctTokens: Math.min(size, WORKING_SET),
          rps: m.rps,
          p99: m.p99,
          max: m.max,
          errors: m.errors,
          non2xx: m.non2xx,
          rounds,
          ...(memory ? { conduitMemory: memory } : {}),
        });
      }
    }

    if (SWEEP_ROWS > 0) await sweep(lib, conduit, store, targets.invoke, templateId);

    const results = { comparisons: [], scaling: lib.records.scaling, sweep: lib.records.sweep };
    console.log(`\n${scalingTable(results)}\n${flatness(results)}`);
    if (results.sweep.length > 0) console.log(sweepTable(results));
  } finally {
    await store?.close();
    await conduit.stop();
  }
}

/** Bearer /invoke without a sweep, then with a sweep of SWEEP_ROWS expired rows a quarter into the run. */
async function sweep(lib, conduit, store, invoke, templateId) {
  const now = Date.now();
  const started = performance.now();
  await store.clone({
    era: "a",
    salt: randomBytes(8).toString("hex"),
    from: 0,
    to: SWEEP_ROWS - 1,
    issuedAt: now - 2 * DAY,
    expiresAt: now - DAY,
    templateId,
  });
  console.log(`  ${SWEEP_ROWS} expired rows added in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const without = await lib.measure(invoke);
  const during = async () => {
    await new Promise((resolve) => setTimeout(resolve, (lib.DURATION * 1000) / 4));
    const t0 = performance.now();
    const answer = await call(`${conduit.url}/invoke/pub.oauth/removeExpiredAccessTokens`, {
      headers: { authorization: conduit.adminAuth, "content-type": "application/json" },
      body: "{}",
    });
    return { sweepMs: performance.now() - t0, removed: answer.removed };
  };
  const withSweep = await lib.measure({ ...invoke, during });
  const { sweepMs, removed } = withSweep.during;
  console.log(
    `scaling invoke during a sweep of ${removed} expired rows (took ${sweepMs.toFixed(0)} ms): p99 ${withSweep.p99} ms (max ${withSweep.max} ms), ${withSweep.rps.toFixed(0)} req/s vs without: p99 ${without.p99} ms (max ${without.max} ms), ${without.rps.toFixed(0)} req/s`,
  );
  if (removed < SWEEP_ROWS)
    console.log(`  (WARNING: the sweep removed ${removed} rows, expected ${SWEEP_ROWS})`);
  lib.record("sweep", { expiredRows: SWEEP_ROWS, removed, sweepMs, without, with: withSweep });
}
