import { mkdirSync } from "node:fs";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import { createStream, type RotatingFileStream } from "rotating-file-stream";

export type { Logger };

/** Paths pino blanks in every record, so secrets never reach the log even by mistake. */
export const REDACT_PATHS = [
  "password",
  "*.password",
  "clientSecret",
  "*.clientSecret",
  "client_secret",
  "*.client_secret",
  "token",
  "*.token",
  "access_token",
  "*.access_token",
  "refresh_token",
  "*.refresh_token",
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
];

export function logFile(dataDir: string): string {
  return join(dataDir, "logs", "server.log");
}

/** When the log file is rotated, and how many rotated files are kept. */
export interface LogRotation {
  /** Rotate when the file reaches this size: a number and a unit, B, K, M or G (`10M`). */
  maxSize: string;
  /** Rotated files kept; older ones are deleted. */
  maxFiles: number;
}

export const DEFAULT_ROTATION: LogRotation = { maxSize: "10M", maxFiles: 14 };

const fileStreams = new WeakMap<Logger, RotatingFileStream>();

const pad = (n: number) => String(n).padStart(2, "0");

/** `server.log` while written; `server-20261203-1530-1.log` (UTC start of the rotation, then a count) once rotated. */
export function rotatedLogName(time: Date | number | null, index?: number): string {
  if (!time) return "server.log";
  const t = typeof time === "number" ? new Date(time) : time;
  const stamp = `${t.getUTCFullYear()}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())}-${pad(t.getUTCHours())}${pad(t.getUTCMinutes())}`;
  return `server-${stamp}-${index ?? 1}.log`;
}

/**
 * The server log: structured JSON to <data dir>/logs/server.log and, unless turned off, to stdout. The file
 * is rotated daily and when it reaches `rotation.maxSize` (rotating-file-stream); `rotation.maxFiles`
 * rotated files are kept.
 */
export function createLogger(options: {
  dataDir: string;
  level: string;
  stdout: boolean;
  rotation?: LogRotation;
}): Logger {
  const dir = join(options.dataDir, "logs");
  mkdirSync(dir, { recursive: true });
  const rotation = options.rotation ?? DEFAULT_ROTATION;
  const file = createStream(rotatedLogName, {
    path: dir,
    size: rotation.maxSize as `${number}M`,
    interval: "1d",
    maxFiles: rotation.maxFiles,
    history: ".server.log.history",
  });
  // A full disk or a removed folder must not crash the server: say so once on stderr and go on.
  let reported = false;
  file.on("error", (error: Error) => {
    if (reported) return;
    reported = true;
    process.stderr.write(`conduit: cannot write the log file in ${dir}: ${error.message}\n`);
  });
  const streams: pino.StreamEntry[] = [{ level: "trace", stream: file }];
  if (options.stdout) streams.push({ level: "trace", stream: pino.destination({ dest: 1, sync: false }) });
  const logger = pino(
    { level: options.level, redact: { paths: REDACT_PATHS, censor: "[redacted]" } },
    pino.multistream(streams),
  );
  fileStreams.set(logger, file);
  return logger;
}

/** Writes out what the log file still buffers and closes it (at exit); bounded to two seconds. */
export async function closeLogger(log: Logger): Promise<void> {
  log.flush?.();
  const file = fileStreams.get(log);
  if (!file || file.writableFinished) return;
  fileStreams.delete(log);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    timer.unref();
    file.end(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
