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

  /** Per-server plain counts on the hot path, copied into the counters only when /metrics is scraped. */
  private readonly hits = new Map<string, number>();
  private readonly misses = new Map<string, number>();

  readonly cacheHits = scrapedCounter(this.registry, this.hits, {
    name: "conduit_token_cache_hits_total",
    help: "Bearer tokens of external servers answered from the cache",
    label: "server",
  });

  readonly cacheMisses = scrapedCounter(this.registry, this.misses, {
    name: "conduit_token_cache_misses_total",
    help: "Bearer tokens of external servers not in the cache (verified upstream or locally)",
    label: "server",
  });

  readonly jwtVerifications = new Counter({
    name: "conduit_jwt_verifications_total",
    help: "JWT access tokens of external servers verified locally against the JWKS, by outcome",
    labelNames: ["server", "outcome"] as const,
    registers: [this.registry],
  });

  private readonly byStatus = new Map<string, number>();

  readonly requests = scrapedCounter(this.registry, this.byStatus, {
    name: "conduit_http_requests_total",
    help: "HTTP requests answered, by status code",
    label: "status",
  });

  countHit(server: string): void {
    this.hits.set(server, (this.hits.get(server) ?? 0) + 1);
  }

  countMiss(server: string): void {
    this.misses.set(server, (this.misses.get(server) ?? 0) + 1);
  }

  countResponse(status: number): void {
    const key = STATUS_TEXT[status] ?? String(status);
    this.byStatus.set(key, (this.byStatus.get(key) ?? 0) + 1);
  }
}

/** Status codes as label text, made once. */
const STATUS_TEXT: string[] = Array.from({ length: 600 }, (_, i) => String(i));

/**
 * A counter fed from a plain Map (one addition on the hot path, no label hashing), copied into
 * prom-client only when the registry is collected.
 */
function scrapedCounter(
  registry: Registry,
  counts: Map<string, number>,
  spec: { name: string; help: string; label: string },
): Counter<string> {
  return new Counter({
    name: spec.name,
    help: spec.help,
    labelNames: [spec.label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, count] of counts) this.inc({ [spec.label]: value }, count);
    },
  });
}
