// First of all, before anything else loads (see the module).
import "./kernel/tick-maps.js";
import { buildApp } from "./http/app.js";
import { ConfigError, loadConfig } from "./config/index.js";
import { createConduit } from "./conduit.js";
import { listen } from "./http/listeners.js";
import { readTlsMaterial } from "./http/tls.js";
import { closeLogger } from "./kernel/logger.js";

/** config → certificate → database → migrate → build app → listen (HTTP, HTTPS); drain on SIGTERM. */
export async function main(): Promise<void> {
  let config;
  let tls;
  try {
    config = loadConfig();
    // A bad certificate file stops start-up like a bad variable, before the database is touched.
    tls = config.tls ? readTlsMaterial(config.tls) : undefined;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`conduit: configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const conduit = await createConduit(config);
  const app = await buildApp(conduit);
  const listeners = await listen(app, { config, log: conduit.log, tls });
  conduit.log.info(
    { event: "started", url: config.publicUrl, listening: listeners.urls, database: conduit.storage.dialect },
    "Conduit is listening",
  );
  // SIGHUP re-reads the certificate files (they are watched too); without HTTPS it keeps its default.
  if (listeners.https) process.on("SIGHUP", () => void listeners.reloadCertificate("SIGHUP"));

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    conduit.log.info({ event: "stopping", signal }, "stopping: finishing requests in flight");
    // A request stuck on a slow dependency must not hold the process forever.
    const deadline = setTimeout(() => {
      conduit.log.error(
        { event: "stop_timeout", seconds: config.shutdownTimeoutSeconds },
        "requests still in flight after the shutdown timeout: closing them",
      );
      listeners.closeAllConnections();
      conduit.log.flush?.();
      setTimeout(() => process.exit(1), 100);
    }, config.shutdownTimeoutSeconds * 1000);
    deadline.unref();
    await app.close();
    await conduit.close();
    clearTimeout(deadline);
    conduit.log.info({ event: "stopped" }, "stopped");
    await closeLogger(conduit.log);
    setTimeout(() => process.exit(0), 50).unref();
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `conduit: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  // No process.exit() at once: the log file may still be opening, and pino's flush at exit would then
  // throw ("sonic boom is not ready yet") over the message above. The process ends by itself once
  // nothing is pending; the timer only bounds the wait.
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 2000).unref();
});
