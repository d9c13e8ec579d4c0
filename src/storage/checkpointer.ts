// SQLite WAL checkpoints off the event loop (issue 10).
//
// In WAL mode every commit appends pages to the log, and a checkpoint copies them back into the database
// file (and fsyncs it). By default the connection that commits runs the checkpoint itself, in line, once
// the log passes 1,000 pages: better-sqlite3 is synchronous, so that commit holds the event loop for the
// whole copy (12-17 ms spikes measured in the sweep, and on any write path).
//
// Here a worker thread with a connection of its own runs a PASSIVE checkpoint every `intervalMs`: it copies
// what is committed without waiting on anyone (busy_timeout 0; it never blocks a writer or a reader). The
// server's connection keeps an in-line checkpoint, at `autocheckpointPages` (4,000) instead of 1,000, for
// two reasons:
// - a WAL is only restarted from its beginning by a writer that finds it wholly copied back when its
//   transaction starts. Under sustained writes (12k commits/s of client_credentials issuance) new frames
//   always land before the worker's checkpoint catches up, and without the in-line one the WAL grew to
//   792 MB in 22 s. The in-line checkpoint ends on the writer's own connection, right before its next
//   write, which then restarts the log;
// - when it runs, it finds most pages already copied by the worker, so it is short.
// Measured: the WAL stays at about 16 MB under sustained issuance.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

export interface CheckpointerOptions {
  intervalMs?: number;
}

export const CHECKPOINT_DEFAULTS = { intervalMs: 500, autocheckpointPages: 4_000 } as const;

// The worker's code, evaluated as CommonJS (eval: true), so that it runs the same from src (tests, tsx)
// and from dist. workerData: { driver: path of better-sqlite3, file, intervalMs }.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.file);
db.pragma("busy_timeout = 0");
const checkpoint = () => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch (error) {
    // SQLITE_BUSY (another checkpoint under way): the next turn copies what this one did not. Anything
    // else ends the worker, and is reported (onError): the server's in-line checkpoint goes on alone.
    if (error.code !== "SQLITE_BUSY") {
      clearInterval(timer);
      db.close();
      // A plain Error: better-sqlite3's own class does not survive the way to the main thread.
      throw new Error(\`SQLite checkpoint: \${error.code}: \${error.message}\`);
    }
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.once("message", () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Ends the worker and closes its connection; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts checkpointing `file` (a WAL-mode SQLite database) from a worker thread. A worker that fails (the
 * file cannot be opened by a second connection, say) only loses the off-thread copy: the server's in-line
 * checkpoint still bounds the WAL, so its error is reported to `onError` and not thrown.
 */
export function startCheckpointer(
  file: string,
  options: CheckpointerOptions = {},
  onError: (error: Error) => void = () => undefined,
): Checkpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { driver, file, intervalMs: options.intervalMs ?? CHECKPOINT_DEFAULTS.intervalMs },
  });
  // It must not keep a process alive that has nothing else left to do (a CLI command, a test).
  worker.unref();
  worker.on("error", onError);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    worker.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  return {
    async stop() {
      if (!exited) worker.postMessage("stop");
      await exit;
    },
  };
}
