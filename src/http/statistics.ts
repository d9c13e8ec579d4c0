import type { FastifyInstance } from "fastify";
import type { MetricValue, Registry } from "prom-client";
import type { Conduit } from "../conduit.js";
import type { Clock } from "../kernel/clock.js";
import type { Logger } from "../kernel/logger.js";
import { externalServersOf } from "../resource/external/module.js";
import { guardAdminRoutes } from "./auth.js";

/** One interval of the history: what happened during the 10 seconds that ended `at`. */
export interface StatisticsSample {
  at: string;
  requests: number;
  introspectionCalls: number;
}

/** `GET /admin/api/statistics`: what /metrics counts, as JSON, with a short history for the charts. */
export interface StatisticsBody {
  startedAt: string;
  uptimeSeconds: number;
  requests: { total: number; byStatus: Record<string, number> };
  introspection: { calls: number; failures: number; cacheHits: number; cacheMisses: number };
  /** Oldest first, one entry per 10-second interval, at most the last 15 minutes. */
  history: StatisticsSample[];
}

export const SAMPLE_INTERVAL_MS = 10_000;
export const HISTORY_LENGTH = (15 * 60_000) / SAMPLE_INTERVAL_MS;

/** The metric names of src/resource/external/metrics.ts that the statistics read. */
const METRICS = {
  requests: "conduit_http_requests_total",
  introspections: "conduit_introspection_requests_total",
  failures: "conduit_introspection_failures_total",
  cacheHits: "conduit_token_cache_hits_total",
  cacheMisses: "conduit_token_cache_misses_total",
} as const;

interface Totals {
  byStatus: Record<string, number>;
  requests: number;
  introspections: number;
  failures: number;
  cacheHits: number;
  cacheMisses: number;
}

/**
 * Reads the counters of the Prometheus registry (never the request path: the counters are what
 * /metrics serves) and keeps a ring buffer of 10-second intervals, sampled by an unref'd timer.
 */
export class Statistics {
  readonly startedAt: number;
  /** A ring buffer: `next` is where the next sample goes once it is full. */
  private readonly ring: StatisticsSample[] = [];
  private next = 0;
  private previous: Totals | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.startedAt = clock.now();
  }

  /** Starts sampling (the first reading is the baseline); answers the function that stops it. */
  start(intervalMs = SAMPLE_INTERVAL_MS): () => void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), intervalMs);
    this.timer.unref();
    return () => clearInterval(this.timer);
  }

  /** Reads the counters and records what happened since the previous reading. */
  async sample(): Promise<void> {
    let totals: Totals;
    try {
      totals = await this.totals();
    } catch (err) {
      this.log.warn({ event: "statistics_sample_failed", err }, "could not read the metrics");
      return;
    }
    const previous = this.previous;
    this.previous = totals;
    if (!previous) return;
    const sample: StatisticsSample = {
      at: new Date(this.clock.now()).toISOString(),
      requests: Math.max(0, totals.requests - previous.requests),
      introspectionCalls: Math.max(0, totals.introspections - previous.introspections),
    };
    if (this.ring.length < HISTORY_LENGTH) this.ring.push(sample);
    else {
      this.ring[this.next] = sample;
      this.next = (this.next + 1) % HISTORY_LENGTH;
    }
  }

  /** The samples, oldest first. */
  history(): StatisticsSample[] {
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  async snapshot(): Promise<StatisticsBody> {
    const totals = await this.totals();
    const now = this.clock.now();
    return {
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.max(0, Math.floor((now - this.startedAt) / 1000)),
      requests: { total: totals.requests, byStatus: totals.byStatus },
      introspection: {
        calls: totals.introspections,
        failures: totals.failures,
        cacheHits: totals.cacheHits,
        cacheMisses: totals.cacheMisses,
      },
      history: this.history(),
    };
  }

  private async totals(): Promise<Totals> {
    const byStatus: Record<string, number> = {};
    for (const { labels, value } of await this.values(METRICS.requests)) {
      const status = String(labels.status ?? "");
      byStatus[status] = (byStatus[status] ?? 0) + value;
    }
    const sum = async (name: string) => (await this.values(name)).reduce((n, v) => n + v.value, 0);
    return {
      byStatus,
      requests: Object.values(byStatus).reduce((n, v) => n + v, 0),
      introspections: await sum(METRICS.introspections),
      failures: await sum(METRICS.failures),
      cacheHits: await sum(METRICS.cacheHits),
      cacheMisses: await sum(METRICS.cacheMisses),
    };
  }

  private async values(name: string): Promise<MetricValue<string>[]> {
    const metric = this.registry.getSingleMetric(name);
    if (!metric) return [];
    return (await metric.get()).values;
  }
}

const installed = new WeakMap<Conduit, Statistics>();

/** The statistics of a Conduit, sampling from the first call until the Conduit closes. */
export function statisticsOf(conduit: Conduit): Statistics {
  let statistics = installed.get(conduit);
  if (!statistics) {
    const state = externalServersOf(conduit);
    if (!state) throw new TypeError("installExternalServers must run before the statistics");
    statistics = new Statistics(state.metrics.registry, conduit.clock, conduit.log);
    installed.set(conduit, statistics);
    conduit.onClose(statistics.start());
  }
  return statistics;
}

/** `GET /admin/api/statistics`, for users in Administrators like the rest of the admin API. */
export async function statisticsRoutes(
  app: FastifyInstance,
  { conduit }: { conduit: Conduit },
): Promise<void> {
  guardAdminRoutes(app, conduit);
  const statistics = statisticsOf(conduit);
  app.get("/statistics", async (_request, reply) =>
    reply.header("cache-control", "no-store").send(await statistics.snapshot()),
  );
}
