import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tailLog } from "../../src/admin/log-reader.js";
import { loadConfig } from "../../src/config/index.js";
import { closeLogger, createLogger, logFile, rotatedLogName } from "../../src/kernel/logger.js";

describe("log file rotation", () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("rotates by size, keeps only the configured number of rotated files, and server.log stays the current one", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "conduit-logs-"));
    dirs.push(dataDir);
    const log = createLogger({
      dataDir,
      level: "info",
      stdout: false,
      rotation: { maxSize: "2K", maxFiles: 3 },
    });
    // ~200 bytes a record: 2 KiB holds about ten; 120 records make about a dozen rotations.
    for (let i = 0; i < 120; i++) {
      log.info({ event: "filler", i, pad: "x".repeat(120) }, `record ${i}`);
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    log.info({ event: "last" }, "the newest record");
    await closeLogger(log);
    // Rotation removes the oldest files in the background: wait until only maxFiles are left.
    const rotated = () =>
      readdirSync(join(dataDir, "logs")).filter((f) => /^server-\d{8}-\d{4}-\d+\.log$/.test(f));
    for (let i = 0; i < 50 && rotated().length > 3; i++) await new Promise((r) => setTimeout(r, 100));
    expect(rotated().length).toBeGreaterThan(0);
    expect(rotated().length).toBeLessThanOrEqual(3);
    // The current file is small and holds the newest record; the admin API's reader still finds it.
    const current = readFileSync(logFile(dataDir), "utf8");
    expect(current.length).toBeLessThan(4096);
    const newest = await tailLog(logFile(dataDir), 1, {});
    expect(newest[0]).toMatchObject({ event: "last" });
    // The oldest records went with the deleted files; nothing of record 0 is left anywhere.
    const everything = [logFile(dataDir), ...rotated().map((f) => join(dataDir, "logs", f))]
      .map((f) => readFileSync(f, "utf8"))
      .join("");
    expect(everything).not.toContain('"i":0,');
    expect(everything).toContain('"i":119,');
  });

  it("names rotated files by their UTC start and a count", () => {
    expect(rotatedLogName(null)).toBe("server.log");
    expect(rotatedLogName(new Date(Date.UTC(2026, 11, 3, 15, 30)), 2)).toBe("server-20261203-1530-2.log");
  });

  it("is configured by CONDUIT_LOG_MAX_SIZE and CONDUIT_LOG_FILES; bad values name the variable", () => {
    expect(loadConfig({}).logRotation).toEqual({ maxSize: "10M", maxFiles: 14 });
    expect(loadConfig({ CONDUIT_LOG_MAX_SIZE: "512k", CONDUIT_LOG_FILES: "3" }).logRotation).toEqual({
      maxSize: "512K",
      maxFiles: 3,
    });
    const bad: [string, string][] = [
      ["CONDUIT_LOG_MAX_SIZE", "10"],
      ["CONDUIT_LOG_MAX_SIZE", "0M"],
      ["CONDUIT_LOG_MAX_SIZE", "10T"],
      ["CONDUIT_LOG_FILES", "0"],
      ["CONDUIT_LOG_FILES", "many"],
    ];
    for (const [name, value] of bad)
      expect(() => loadConfig({ [name]: value }), `${name}=${value}`).toThrow(name);
  });
});
