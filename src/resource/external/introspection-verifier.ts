import type { Clock } from "../../kernel/clock.js";
import type { Logger } from "../../kernel/logger.js";
import { Breaker, DEFAULT_BREAKER, type BreakerSettings } from "./breaker.js";
import { mapClaims, type ClaimMapping } from "./claims.js";
import type { IntrospectionClient } from "./introspection-client.js";
import type { ResourceMetrics } from "./metrics.js";
import type { TokenCache } from "./token-cache.js";
import { UpstreamError } from "./upstream-error.js";
import { CachingVerifier, type Verdict } from "./verdicts.js";

/**
 * Opaque (or any) tokens of an external server, checked by RFC 7662 introspection: active:true and an
 * unexpired exp are required (RFC 7662 §2.2), then the claims are mapped (see claims.ts).
 */
export class IntrospectionVerifier extends CachingVerifier {
  private readonly breaker: Breaker;

  constructor(
    private readonly client: IntrospectionClient,
    private readonly mapping: ClaimMapping,
    cache: TokenCache,
    clock: Clock,
    metrics: ResourceMetrics,
    log: Logger,
    breaker: BreakerSettings = DEFAULT_BREAKER,
  ) {
    super(mapping.server, cache, clock, metrics, log);
    this.breaker = new Breaker(clock, log, mapping.server, "the introspection endpoint", breaker);
  }

  protected async decide(token: string): Promise<Verdict> {
    const stop = this.metrics.latency.startTimer({ server: this.server });
    let claims;
    try {
      claims = await this.breaker.run(() => this.client.introspect(token));
    } catch (error) {
      stop();
      if (error instanceof UpstreamError)
        this.metrics.introspections.inc({ server: this.server, outcome: "error" });
      throw error;
    }
    stop();
    this.metrics.introspections.inc({ server: this.server, outcome: claims.active ? "active" : "inactive" });
    if (claims.active !== true) return { refused: "the introspection endpoint says the token is not active" };
    return mapClaims(claims, this.mapping, this.clock.now());
  }
}
