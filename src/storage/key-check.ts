import type { Kysely } from "kysely";
import { ConfigError } from "../config/index.js";
import { hmac, safeEqual } from "../kernel/crypto.js";
import type { Database } from "./schema.js";

/** The settings row that holds the key check value; never the key itself. */
export const KEY_CHECK_SETTING = "server-key-check";
const LABEL = "conduit server key check v1";

/** A check value of a server key: an HMAC of a fixed label, which tells keys apart and reveals nothing. */
export function keyCheckValue(key: Buffer): string {
  return hmac(key, LABEL);
}

/**
 * Refuses to go on with a server key other than the one the database was set up with. Nodes with
 * different keys would each refuse the other's tokens and fail to open the other's sealed secrets, with
 * nothing said: this check turns that into a start-up error that names the variable. The first node to
 * start on an empty database records its key's check value (insert-if-absent, so nodes starting together
 * agree on one).
 */
export async function checkServerKey(db: Kysely<Database>, key: Buffer, now: number): Promise<void> {
  const mine = keyCheckValue(key);
  await db
    .insertInto("settings")
    .values({ key: KEY_CHECK_SETTING, value: JSON.stringify({ check: mine }), updated_at: now })
    .onConflict((oc) => oc.column("key").doNothing())
    .execute();
  const row = await db
    .selectFrom("settings")
    .select("value")
    .where("key", "=", KEY_CHECK_SETTING)
    .executeTakeFirstOrThrow();
  const stored = (JSON.parse(row.value) as { check?: unknown }).check;
  if (typeof stored !== "string" || !safeEqual(stored, mine))
    throw new ConfigError(
      "CONDUIT_SECRET_KEY",
      "this server key is not the one the database was set up with: every node sharing a database needs " +
        "the same key (set CONDUIT_SECRET_KEY to it, or copy secret.key from the data dir of the first node)",
    );
}
