import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startCheckpointer } from "../../src/storage/checkpointer.js";
import { openSqlite, type Storage } from "../../src/storage/database.js";

/**
 * SQLite WAL checkpoints run in a worker thread, not in the commit that crosses the threshold on the event
 * loop (src/storage/checkpointer.ts), and the WAL stays bounded under back-to-back writes.
 */
describe("SQLite WAL checkpoints", () => {
  let dir: string;
  let file: string;
  const opened: Storage[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "conduit-checkpoint-"));
    file = join(dir, "conduit.sqlite");
  });
  afterEach(async () => {
    for (const storage of opened.splice(0)) await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = async (checkpointIntervalMs: number) => {
    const storage = openSqlite(file, { checkpointIntervalMs });
    opened.push(storage);
    await sql`CREATE TABLE IF NOT EXISTS pages (id INTEGER PRIMARY KEY, data BLOB NOT NULL)`.execute(
      storage.db,
    );
    return storage;
  };
  const size = (path: string) => (existsSync(path) ? statSync(path).size : 0);
  // One transaction of `rows` rows of 4,000 bytes: about one 4 KiB page each.
  const commitPages = async (storage: Storage, rows: number) => {
    await storage.db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows; i += 1)
        await sql`INSERT INTO pages (data) VALUES (randomblob(4000))`.execute(trx);
    });
  };
  const until = async (check: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!check() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
    return check();
  };

  it("leaves a commit of 2,000 pages to the worker instead of copying it back in line", async () => {
    // The worker's turn is a minute away: whatever reaches the database file now was copied in line.
    const storage = await open(60_000);
    const before = size(file);
    await commitPages(storage, 2_000);
    expect(size(`${file}-wal`)).toBeGreaterThan(2_000 * 4_096);
    // SQLite's default in-line checkpoint (at 1,000 pages) would have grown the file by 8 MB already.
    expect(size(file)).toBe(before);
  });

  it("copies committed pages back into the database file from the worker", async () => {
    const storage = await open(50);
    const before = size(file);
    await commitPages(storage, 2_000);
    expect(await until(() => size(file) >= before + 2_000 * 4_000, 5_000)).toBe(true);
  });

  it("keeps the WAL bounded under back-to-back commits", async () => {
    // 200 commits of 100 pages, 80 MB written in all. Without the in-line checkpoint the WAL is never
    // restarted while writes keep coming (measured: 82.8 MB after 80 MB of commits; 792 MB in 22 s of
    // sustained issuance). With it, the WAL restarts once it is past 4,000 pages (16 MB) and wholly copied
    // back; an in-line checkpoint that meets the worker's is skipped and tried again at the next commit.
    const storage = await open(50);
    let largest = 0;
    for (let i = 0; i < 200; i += 1) {
      await commitPages(storage, 100);
      largest = Math.max(largest, size(`${file}-wal`));
    }
    // How far past 16 MB it gets depends on when the worker's checkpoints run: 42.5 MB once, with the whole
    // suite loading both cores. Unbounded, it holds every page written (82.8 MB).
    expect(largest).toBeLessThan(60 * 1024 * 1024);
    const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM pages`.execute(storage.db);
    expect(rows[0]?.n).toBe(20_000);
  });

  it("stops the worker on close, which removes the WAL, and keeps every row", async () => {
    const storage = await open(50);
    await commitPages(storage, 3_000);
    await opened.splice(0)[0]?.close();
    // The last connection to close checkpoints everything and removes the log: the worker's was closed first.
    expect(existsSync(`${file}-wal`)).toBe(false);
    const again = await open(50);
    const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM pages`.execute(again.db);
    expect(rows[0]?.n).toBe(3_000);
    expect(storage).not.toBe(again);
  });

  it("reports a worker that cannot open the database, and still stops", async () => {
    const errors: Error[] = [];
    const checkpointer = startCheckpointer(join(dir, "missing", "conduit.sqlite"), {}, (e) => errors.push(e));
    await checkpointer.stop();
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/directory does not exist/);
  });

  it("ends the worker and reports an error that is not SQLITE_BUSY", async () => {
    const notADatabase = join(dir, "notes.txt");
    writeFileSync(
      notADatabase,
      "this is not a SQLite database, and is long enough to have a header ".repeat(20),
    );
    const errors: Error[] = [];
    const checkpointer = startCheckpointer(notADatabase, { intervalMs: 20 }, (e) => errors.push(e));
    expect(await until(() => errors.length > 0, 5_000)).toBe(true);
    expect(errors[0]?.message).toMatch(/not a database/);
    await checkpointer.stop();
  });
});
