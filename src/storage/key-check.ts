import type { Kysely } from "kysely";
import { ConfigError } from "../config/index.js";
import { keyCheckValue, type ServerKeys } from "../config/keys.js";
import type { Clock } from "../kernel/clock.js";
import { safeEqual } from "../kernel/crypto.js";
import type { Database } from "./schema.js";

export { keyCheckValue };

/** The settings row that holds the key check value; never the key itself. */
export const KEY_CHECK_SETTING = "server-key-check";

/**
 * What the database knows of its keys: `check` is the check value of the key everything is (or is being)
 * sealed under; `previous`, set by `conduit key rotate` and removed by `--finish`, the key being retired.
 */
export interface StoredKeyCheck {
  check: string;
  previous?: string;
}

const WRONG_KEY =
  "this server key is not the one the database was set up with: every node sharing a database needs " +
  "the same key (set CONDUIT_SECRET_KEY to it, or copy secret.key from the data dir of the first node)";

export async function readKeyCheck(db: Kysely<Database>): Promise<StoredKeyCheck | undefined> {
  const row = await db
    .selectFrom("settings")
    .select("value")
    .where("key", "=", KEY_CHECK_SETTING)
    .executeTakeFirst();
  if (!row) return undefined;
  const value = JSON.parse(row.value) as { check?: unknown; previous?: unknown };
  if (typeof value.check !== "string") return undefined;
  return typeof value.previous === "string"
    ? { check: value.check, previous: value.previous }
    : { check: value.check };
}

export async function writeKeyCheck(db: Kysely<Database>, value: StoredKeyCheck, now: number): Promise<void> {
  await db
    .updateTable("settings")
    .set({ value: JSON.stringify(value), updated_at: now })
    .where("key", "=", KEY_CHECK_SETTING)
    .execute();
}

const is = (stored: string | undefined, key: Buffer | undefined): boolean =>
  stored !== undefined && key !== undefined && safeEqual(stored, keyCheckValue(key));

/**
 * Refuses to go on with a server key other than the one the database was set up with. Nodes with
 * different keys would each refuse the other's tokens and fail to open the other's sealed secrets, with
 * nothing said: this check turns that into a start-up error that names the variable. The first node to
 * start on an empty database records its key's check value (insert-if-absent, so nodes starting together
 * agree on one).
 *
 * During a rotation (src/cli/key-rotate.ts) a node with CONDUIT_SECRET_KEY=new and
 * CONDUIT_SECRET_KEY_PREVIOUS=old starts on a database still at the old key (before `conduit key rotate`)
 * or at the new one. Once `rotate` has run, a node needs both keys until `--finish`; a node with the old
 * key alone is refused from then on.
 */
export async function checkServerKey(
  db: Kysely<Database>,
  keys: ServerKeys | Buffer,
  now: number,
): Promise<void> {
  const { current, previous } = Buffer.isBuffer(keys)
    ? { current: keys, previous: undefined }
    : {
        current: keys.current.key,
        previous: keys.previous?.key,
      };
  await db
    .insertInto("settings")
    .values({
      key: KEY_CHECK_SETTING,
      value: JSON.stringify({ check: keyCheckValue(current) }),
      updated_at: now,
    })
    .onConflict((oc) => oc.column("key").doNothing())
    .execute();
  const stored = await readKeyCheck(db);
  if (is(stored?.check, current)) {
    if (stored!.previous === undefined || is(stored!.previous, previous)) return;
    throw new ConfigError(
      previous ? "CONDUIT_SECRET_KEY_PREVIOUS" : "CONDUIT_SECRET_KEY",
      previous
        ? "is not the key this database is rotating from"
        : "a key rotation is in progress: set CONDUIT_SECRET_KEY_PREVIOUS to the old key as well, or retire " +
            "it first with `conduit key rotate --finish`",
    );
  }
  // Before `conduit key rotate`: the database is still at the previous key.
  if (stored && stored.previous === undefined && is(stored.check, previous)) return;
  const rotatedOut = is(stored?.previous, current);
  throw new ConfigError(
    "CONDUIT_SECRET_KEY",
    rotatedOut
      ? `${WRONG_KEY}; this key is being rotated out: set CONDUIT_SECRET_KEY to the new key and CONDUIT_SECRET_KEY_PREVIOUS to this one`
      : WRONG_KEY,
  );
}

/**
 * Whether `conduit key rotate` has run (the database's check value is the current key's): only then do
 * nodes re-digest client secrets verified under the previous key, so nodes still on the old key alone
 * during a rolling restart keep verifying them. Read at most every `ttlMs`; once true, for good.
 */
export class KeyRotationProbe {
  private applied = false;
  private readAt = -Infinity;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly keys: ServerKeys,
    private readonly clock: Clock,
    private readonly ttlMs = 10_000,
  ) {}

  async rotated(): Promise<boolean> {
    if (this.applied || !this.keys.previous) return this.applied;
    const now = this.clock.now();
    if (now - this.readAt < this.ttlMs) return false;
    this.readAt = now;
    this.applied = is((await readKeyCheck(this.db))?.check, this.keys.current.key);
    return this.applied;
  }
}
