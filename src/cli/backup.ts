import { chmodSync, copyFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import SQLite from "better-sqlite3";
import type { Config } from "../config/index.js";

export interface BackupResult {
  database: string;
  /** Where the server key was copied to, when it lives in the data dir (else it is in CONDUIT_SECRET_KEY). */
  key: string | undefined;
}

/**
 * An online backup of the embedded SQLite database (better-sqlite3's backup API: consistent while the
 * server keeps writing) to `target`, plus a copy of the server key next to it (`<target>.secret.key`,
 * mode 0600) when the key is the data dir's file: sealed secrets and keyed digests need that key, so a
 * backup without it could not be restored. Restore: a fresh data dir with the backup as `conduit.sqlite`
 * and the key as `secret.key` (or the same CONDUIT_SECRET_KEY).
 */
export async function backupSqlite(config: Config, target: string): Promise<BackupResult> {
  if (config.databaseUrl)
    throw new Error(
      "conduit backup copies the embedded SQLite database; on PostgreSQL use pg_dump (see the README)",
    );
  const source = join(config.dataDir, "conduit.sqlite");
  if (!existsSync(source)) throw new Error(`no database at ${source} (is CONDUIT_DATA_DIR right?)`);
  const destination = resolve(target);
  if (existsSync(destination)) throw new Error(`${destination} exists already: name a new file`);
  const db = new SQLite(source, { readonly: true, fileMustExist: true });
  try {
    await db.backup(destination);
  } finally {
    db.close();
  }
  let key: string | undefined;
  const keyFile = join(config.dataDir, "secret.key");
  if (!config.secretKey && existsSync(keyFile)) {
    key = `${destination}.secret.key`;
    copyFileSync(keyFile, key);
    chmodSync(key, 0o600);
  }
  return { database: destination, key };
}
