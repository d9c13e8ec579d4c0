import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Kysely } from "kysely";
import type { Config } from "../config/index.js";
import { keyCheckValue, loadServerKeys, type ServerKey, type ServerKeys } from "../config/keys.js";
import { safeEqual } from "../kernel/crypto.js";
import { SecretBox } from "../kernel/secret-box.js";
import { openStorage, type Storage } from "../storage/database.js";
import { readKeyCheck, writeKeyCheck, type StoredKeyCheck } from "../storage/key-check.js";
import type { Database } from "../storage/schema.js";

/**
 * Server key rotation (`conduit key rotate`), run with the configuration the server uses (SQLite data dir
 * or DATABASE_URL) and both keys: CONDUIT_SECRET_KEY=new, CONDUIT_SECRET_KEY_PREVIOUS=old.
 *
 * 1. Every node is restarted with both keys: it seals and digests with the new key and opens and
 *    verifies with either (src/kernel/secret-box.ts, src/oauth/client-auth.ts).
 * 2. `rotate` re-seals every sealed value under the new key in one transaction and records the
 *    rotation in the key check value (`{check: new, previous: old}`): from then on a node with the old
 *    key alone is refused at start, and nodes re-digest client secrets and registration access tokens
 *    under the new key when they are next used (digests are one-way: they cannot be re-keyed here).
 * 3. `rotate --finish` retires the old key once nothing needs it (`{check: new}`).
 * 4. Every node is restarted with the new key alone.
 */

export interface KeyIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** A refusal: the message says why and what to do; the command exits 1. */
export class KeyRotationRefused extends Error {}

/** Where sealed values live: table, primary key, sealed column, and which rows hold one. */
const SEALED = [
  { table: "external_servers", id: "name", column: "client_secret", what: "external server client secret" },
  { table: "external_servers", id: "name", column: "client_key", what: "external server client key" },
  {
    table: "global_variables",
    id: "name",
    column: "value",
    what: "secret global variable",
    secretOnly: true,
  },
  { table: "oauth_signing_keys", id: "kid", column: "private_key", what: "JWT signing key" },
] as const;

interface SealedValue {
  what: string;
  name: string;
  table: string;
  id: string;
  column: string;
  sealed: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function sealedValues(db: Kysely<any>): Promise<SealedValue[]> {
  const values: SealedValue[] = [];
  for (const source of SEALED) {
    let query = db
      .selectFrom(source.table)
      .select([`${source.id} as name`, `${source.column} as sealed`])
      .where(source.column, "is not", null);
    if ("secretOnly" in source) query = query.where("secret", "=", 1);
    for (const row of (await query.execute()) as { name: string; sealed: string }[])
      // A retired signing key's private key is erased (ERASED_PRIVATE_KEY): nothing to re-seal.
      if (row.sealed !== "") values.push({ ...source, name: row.name, sealed: row.sealed });
  }
  return values;
}

/** A client digest not under the current key: its owner must use it (or get a new one) before `--finish`. */
interface StaleDigest {
  clientId: string;
  clientName: string;
  what: "client secret" | "previous client secret" | "registration access token";
}

async function staleDigests(db: Kysely<Database>, current: ServerKey, now: number): Promise<StaleDigest[]> {
  const rows = await db
    .selectFrom("oauth_clients")
    .select([
      "client_id",
      "client_name",
      "secret_digest",
      "previous_secret_digest",
      "previous_secret_expires_at",
      "registration_token_digest",
    ])
    .orderBy("client_name")
    .execute();
  const stale = (digest: string | null) => digest !== null && !digest.startsWith(`${current.kid}:`);
  const found: StaleDigest[] = [];
  for (const row of rows) {
    const client = { clientId: row.client_id, clientName: row.client_name };
    if (stale(row.secret_digest)) found.push({ ...client, what: "client secret" });
    if (stale(row.previous_secret_digest) && Number(row.previous_secret_expires_at ?? 0) > now)
      found.push({ ...client, what: "previous client secret" });
    if (stale(row.registration_token_digest)) found.push({ ...client, what: "registration access token" });
  }
  return found;
}

const is = (stored: string | undefined, key: ServerKey | undefined) =>
  stored !== undefined && key !== undefined && safeEqual(stored, keyCheckValue(key.key));

/**
 * The keys and the database the server uses, refusing to create either (a wrong data dir must not look
 * like success): loadServerKeys would write a fresh secret.key, and SQLite would create an empty file.
 */
function open(config: Config): { keys: ServerKeys; storage: Storage } {
  if (!config.secretKey && !existsSync(join(config.dataDir, "secret.key")))
    throw new KeyRotationRefused("no server key: set CONDUIT_SECRET_KEY to the new key");
  const keys = loadServerKeys(config);
  const file = join(config.dataDir, "conduit.sqlite");
  if (!config.databaseUrl && !existsSync(file))
    throw new KeyRotationRefused(
      `no database at ${file}: set CONDUIT_DATA_DIR (or DATABASE_URL) as the server has it`,
    );
  return { keys, storage: openStorage(config) };
}

async function storedCheck(db: Kysely<Database>): Promise<StoredKeyCheck> {
  const stored = await readKeyCheck(db);
  if (!stored)
    throw new KeyRotationRefused("the database has no key check value yet: start the server on it once");
  return stored;
}

/** `conduit key rotate`: re-seals everything under the new key and records the rotation. */
export async function rotateKey(config: Config, io: KeyIo, now = Date.now()): Promise<number> {
  if (!config.previousSecretKey)
    throw new KeyRotationRefused(
      "set CONDUIT_SECRET_KEY_PREVIOUS to the key being retired and CONDUIT_SECRET_KEY to the new one " +
        "(`conduit key generate` prints a fresh key)",
    );
  const { keys, storage } = open(config);
  const previous = keys.previous!;
  try {
    const db = storage.db;
    const stored = await storedCheck(db);
    const fromPrevious = is(stored.check, previous) && stored.previous === undefined;
    const again = is(stored.check, keys.current) && is(stored.previous, previous);
    if (!fromPrevious && !again) throw new KeyRotationRefused(refusal(stored, keys));
    const box = new SecretBox(keys.current, previous);
    const counts = { resealed: 0, already: 0, changed: 0 };
    await db.transaction().execute(async (trx) => {
      for (const value of await sealedValues(trx)) {
        if (box.isCurrent(value.sealed)) {
          counts.already += 1;
          continue;
        }
        let plain: string;
        try {
          plain = box.open(value.sealed);
        } catch (error) {
          throw new KeyRotationRefused(
            `the ${value.what} "${value.name}" does not open with either key (${(error as Error).message}): nothing was changed`,
          );
        }
        // Compare-and-set: a value another node changed meanwhile was sealed under the new key already.
        const result = await (trx as Kysely<any>) // eslint-disable-line @typescript-eslint/no-explicit-any
          .updateTable(value.table)
          .set({ [value.column]: box.seal(plain) })
          .where(value.id, "=", value.name)
          .where(value.column, "=", value.sealed)
          .executeTakeFirst();
        if (result.numUpdatedRows > 0n) counts.resealed += 1;
        else counts.changed += 1;
      }
      await writeKeyCheck(
        trx,
        { check: keyCheckValue(keys.current.key), previous: keyCheckValue(previous.key) },
        now,
      );
    });
    const stale = await staleDigests(db, keys.current, now);
    io.out(
      [
        `Rotating the server key from ${previous.kid} to ${keys.current.kid}.`,
        `Re-sealed ${counts.resealed} sealed value(s) under the new key` +
          (counts.already ? ` (${counts.already} already were)` : "") +
          (counts.changed ? ` (${counts.changed} changed meanwhile, by a node already on the new key)` : "") +
          ".",
        "A node with the old key alone is refused at start from now on.",
        ...describeStale(stale),
        "",
        "Client secrets and registration access tokens move to the new key when they are next used. Then run",
        "`conduit key rotate --finish`, and restart every node without CONDUIT_SECRET_KEY_PREVIOUS.",
        "",
      ].join("\n"),
    );
    return 0;
  } finally {
    await storage.close();
  }
}

/** `conduit key rotate --finish`: retires the previous key once nothing needs it (or `--force`). */
export async function finishRotation(
  config: Config,
  io: KeyIo,
  options: { force: boolean },
  now = Date.now(),
): Promise<number> {
  const { keys, storage } = open(config);
  try {
    const db = storage.db;
    const stored = await storedCheck(db);
    if (!is(stored.check, keys.current)) throw new KeyRotationRefused(refusal(stored, keys));
    if (stored.previous === undefined) {
      io.out(`No key rotation in progress: the database is at this server key (${keys.current.kid}).\n`);
      return 0;
    }
    const box = new SecretBox(keys.current);
    const sealed = (await sealedValues(db)).filter((value) => !box.isCurrent(value.sealed));
    if (sealed.length > 0) {
      io.err(
        [
          `${sealed.length} sealed value(s) are not under the new key:`,
          ...sealed.map((value) => `  ${value.what} "${value.name}"`),
          "Run `conduit key rotate` again (with CONDUIT_SECRET_KEY_PREVIOUS set): a node still on the old key wrote them.",
          "The previous key was not retired.",
          "",
        ].join("\n"),
      );
      return 1;
    }
    const stale = await staleDigests(db, keys.current, now);
    if (stale.length > 0 && !options.force) {
      io.err(
        [
          ...describeStale(stale),
          "Those clients have not authenticated since the rotation. Once the previous key is retired, their",
          "secrets (and registration access tokens) no longer verify. Wait until they have, or run",
          "`conduit key rotate --finish --force` and give each a new secret",
          "(POST /admin/api/oauth/clients/{clientId}/secret). The previous key was not retired.",
          "",
        ].join("\n"),
      );
      return 1;
    }
    await writeKeyCheck(db, { check: keyCheckValue(keys.current.key) }, now);
    io.out(
      [
        ...(stale.length > 0
          ? [
              ...describeStale(stale),
              "Retired anyway (--force): these clients need new secrets (POST /admin/api/oauth/clients/{clientId}/secret);",
              "registrations listed can no longer be managed with their registration access token (RFC 7592).",
            ]
          : []),
        `Retired the previous server key: the database is at ${keys.current.kid} alone.`,
        "Restart every node without CONDUIT_SECRET_KEY_PREVIOUS; a node with the old key is refused at start.",
        "",
      ].join("\n"),
    );
    return 0;
  } finally {
    await storage.close();
  }
}

function describeStale(stale: StaleDigest[]): string[] {
  if (stale.length === 0) return ["Every client secret and registration access token is under the new key."];
  const clients = new Set(stale.map((s) => s.clientId)).size;
  return [
    `${stale.length} digest(s) of ${clients} client(s) are still under the previous key:`,
    ...stale.map((s) => `  ${s.clientId} (${s.clientName}): ${s.what}`),
  ];
}

function refusal(stored: StoredKeyCheck, keys: ServerKeys): string {
  if (is(stored.check, keys.current) && stored.previous === undefined)
    return "nothing to rotate: the database is at CONDUIT_SECRET_KEY already (a finished rotation needs no CONDUIT_SECRET_KEY_PREVIOUS)";
  if (is(stored.check, keys.current))
    return "CONDUIT_SECRET_KEY_PREVIOUS is not the key this database is rotating from";
  if (is(stored.check, keys.previous))
    return "the database is still at the previous key: run `conduit key rotate` (with both keys) first";
  return (
    "CONDUIT_SECRET_KEY is not the key of this database" +
    (keys.previous ? ", nor is CONDUIT_SECRET_KEY_PREVIOUS" : "") +
    ": use the configuration the server runs with"
  );
}
