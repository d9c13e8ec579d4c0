import { mkdirSync } from "node:fs";
import { join } from "node:path";
import pino, { type Logger } from "pino";

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

/** The server log: structured JSON to <data dir>/logs/server.log and, unless turned off, to stdout. */
export function createLogger(options: { dataDir: string; level: string; stdout: boolean }): Logger {
  mkdirSync(join(options.dataDir, "logs"), { recursive: true });
  const streams: pino.StreamEntry[] = [
    {
      level: "trace",
      stream: pino.destination({ dest: logFile(options.dataDir), sync: false, mkdir: true }),
    },
  ];
  if (options.stdout) streams.push({ level: "trace", stream: pino.destination({ dest: 1, sync: false }) });
  return pino(
    { level: options.level, redact: { paths: REDACT_PATHS, censor: "[redacted]" } },
    pino.multistream(streams),
  );
}
