import type { OAuthServer } from "./context.js";

/** Deletes expired tokens, codes and initial access tokens; answers how many of each. */
export async function removeExpired(
  server: OAuthServer,
): Promise<{ tokens: number; codes: number; initialAccessTokens: number }> {
  const now = server.clock.now();
  const tokens = await server.tokens.deleteExpired(now);
  const codes = await server.codes.deleteExpired(now);
  const initialAccessTokens = await server.initialAccessTokens.deleteExpired(now);
  // Decided approval tickets past their lifetime can no longer be replayed: their rows go too.
  await server.decisions.deleteExpired(now);
  return { tokens, codes, initialAccessTokens };
}

/**
 * The background sweep: runs every `sweepIntervalSeconds` on an unref'd timer (it never keeps the process
 * alive), and stops when the server closes.
 */
export function startSweep(server: OAuthServer): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = async () => {
    const interval = (await server.settings.get().catch(() => undefined))?.sweepIntervalSeconds ?? 300;
    if (stopped) return;
    timer = setTimeout(() => void run(), Math.max(1, interval) * 1000);
    timer.unref();
  };
  const run = async () => {
    try {
      const removed = await removeExpired(server);
      if (removed.tokens + removed.codes + removed.initialAccessTokens > 0)
        server.log.info({ event: "oauth_sweep", ...removed }, "expired OAuth tokens removed");
    } catch (err) {
      server.log.warn({ event: "oauth_sweep_failed", err }, "sweeping expired OAuth tokens failed");
    }
    await schedule();
  };
  void schedule();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
