import { Counter, Histogram, Registry } from "prom-client";

/**
 * The resource server's Prometheus metrics, in a Registry of its own (never prom-client's global one), so
 * several servers in one process (tests) keep separate counts. Served as text at GET /metrics.
 */
export class ResourceMetrics {
  readonly registry = new Registry();

  /** Upstream introspection calls by outcome: active, inactive, error. */
  readonly introspections = new Counter({
    name: "conduit_introspection_requests_total",
    help: "Token introspection calls made to external authorization servers",
    labelNames: ["server", "outcome"] as const,
    registers: [this.registry],
  });

  readonly failures = new Counter({
    name: "conduit_introspection_failures_total",
    help: "Failed calls to external authorization servers (introspection or JWKS), by reason",
    labelNames: ["server", "reason"] as const,
    registers: [this.registry],
  });

  readonly latency = new Histogram({
    name: "conduit_introspection_duration_seconds",
    help: "Latency of introspection calls to external authorization servers",
    labelNames: ["server"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly cacheHits = new Counter({
    name: "conduit_token_cache_hits_total",
    help: "Bearer tokens of external servers answered from the cache",
    labelNames: ["server"] as const,
    registers: [this.registry],
  });

  readonly cacheMisses = new Counter({
    name: "conduit_token_cache_misses_total",
    help: "Bearer tokens of external servers not in the cache (verified upstream or locally)",
    labelNames: ["server"] as const,
    registers: [this.registry],
  });

  readonly jwtVerifications = new Counter({
    name: "conduit_jwt_verifications_total",
    help: "JWT access tokens of external servers verified locally against the JWKS, by outcome",
    labelNames: ["server", "outcome"] as const,
    registers: [this.registry],
  });

  /** Plain counts on the hot path; copied into the counter only when /metrics is scraped. */
  private readonly byStatus = new Map<number, number>();

  readonly requests = (() => {
    const byStatus = this.byStatus;
    return new Counter({
      name: "conduit_http_requests_total",
      help: "HTTP requests answered, by status code",
      labelNames: ["status"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [status, count] of byStatus) this.inc({ status: String(status) }, count);
      },
    });
  })();

  countResponse(status: number): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
  }
}
