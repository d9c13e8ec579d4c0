import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

/** Server-wide settings as JSON documents under a key (`oauth`, …). */
export interface SettingsRepository {
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown, now: number): Promise<void>;
}

export class KyselySettingsRepository implements SettingsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get<T>(key: string): Promise<T | undefined> {
    const row = await this.db
      .selectFrom("settings")
      .select("value")
      .where("key", "=", key)
      .executeTakeFirst();
    return row === undefined ? undefined : (JSON.parse(row.value) as T);
  }

  async put(key: string, value: unknown, now: number): Promise<void> {
    const text = JSON.stringify(value);
    await this.db
      .insertInto("settings")
      .values({ key, value: text, updated_at: now })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value: text, updated_at: now }))
      .execute();
  }
}
