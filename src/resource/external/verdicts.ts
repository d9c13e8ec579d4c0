import type { Clock } from "../../kernel/clock.js";
import { UnavailableError } from "../../kernel/errors.js";
import type { Logger } from "../../kernel/logger.js";
import type { ActiveToken, TokenVerifier } from "../types.js";
import type { ResourceMetrics } from "./metrics.js";
import type { TokenCache } from "./token-cache.js";
import { UpstreamError } from "./upstream-error.js";

/** Seconds a client is asked to wait after a 503 caused by an external server. */
export const RETRY_AFTER_SECONDS = 5;

/** A fresh verdict's source: the token, or why it is refused. */
export type Verdict = { token: ActiveToken } | { refused: string };

/**
 * The path every external verifier shares: a fresh cached verdict (exp re-checked on every hit), else one
 * shared call to `decide` (introspection or local JWT verification; their network calls sit behind a
 * circuit breaker, breaker.ts). An upstream failure becomes a 503, or, when allowed, a still-unexpired
 * stale active verdict. Every refusal is logged with its reason, never with the token.
 */
export abstract class CachingVerifier implements TokenVerifier {
  constructor(
    protected readonly server: string,
    protected readonly cache: TokenCache,
    protected readonly clock: Clock,
    protected readonly metrics: ResourceMetrics,
    protected readonly log: Logger,
  ) {}

  protected abstract decide(token: string): Promise<Verdict>;

  async verify(token: string): Promise<ActiveToken | undefined> {
    const key = this.cache.key(token);
    const now = this.clock.now();
    const hit = this.cache.fresh(key, now);
    if (hit) {
      this.metrics.countHit(this.server);
      return reusable(this.accept(hit.token, now, "cached: the token is not active"), hit.freshUntil);
    }
    this.metrics.countMiss(this.server);
    try {
      const verdict = await this.cache.load(key, async () => {
        const decided = await this.decide(token);
        if ("token" in decided) return decided.token;
        this.refuse(decided.refused);
        return null;
      });
      const accepted = this.accept(verdict.token, this.clock.now(), "");
      return reusable(accepted, this.cache.fresh(key)?.freshUntil);
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      return this.outage(key, error);
    }
  }

  private accept(token: ActiveToken | null, now: number, inactiveReason: string): ActiveToken | undefined {
    if (!token) {
      if (inactiveReason) this.refuse(inactiveReason);
      return undefined;
    }
    // The cache never outlives exp, but exp is re-checked on every hit all the same.
    if (token.expiresAt !== undefined && token.expiresAt <= now) {
      this.refuse("the token has expired");
      return undefined;
    }
    return token;
  }

  private outage(key: string, error: UpstreamError): ActiveToken | undefined {
    this.metrics.failures.inc({ server: this.server, reason: error.reason });
    const now = this.clock.now();
    const stale = this.cache.stale(key, now);
    if (stale?.token && (stale.token.expiresAt ?? Infinity) > now) {
      this.log.warn(
        {
          event: "external_server_unavailable",
          server: this.server,
          reason: error.reason,
          servedStale: true,
        },
        `${error.message}; serving a cached answer`,
      );
      return stale.token;
    }
    const configuration = error.reason === "unauthorized";
    this.log[configuration ? "error" : "warn"](
      {
        event: configuration ? "external_server_misconfigured" : "external_server_unavailable",
        server: this.server,
        reason: error.reason,
      },
      error.message,
    );
    throw new UnavailableError(
      `the authorization server ${this.server} is not available`,
      RETRY_AFTER_SECONDS,
    );
  }

  protected refuse(reason: string): void {
    this.log.info({ event: "bearer_refused", server: this.server, reason }, "bearer token refused");
  }
}

/** The answer, reusable (per connection) for as long as its cached verdict is fresh; stale ones never. */
function reusable(token: ActiveToken | undefined, freshUntil: number | undefined): ActiveToken | undefined {
  return token && freshUntil !== undefined ? { ...token, reusableUntil: freshUntil } : token;
}
