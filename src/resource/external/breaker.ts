import type { Clock } from "../../kernel/clock.js";
import type { Logger } from "../../kernel/logger.js";
import { UpstreamError } from "./upstream-error.js";

/**
 * When a breaker opens and for how long: settings of each external server (`breakerThreshold`,
 * `breakerOpenSeconds`, migration 0011), these values by default.
 */
export interface BreakerSettings {
  /** Consecutive timeouts that open the breaker. */
  threshold: number;
  /** How long an open breaker answers at once, without calling the server. */
  openMs: number;
}

/** Consecutive timeouts that open the breaker, unless the server says otherwise. */
export const BREAKER_THRESHOLD = 3;
/** How long an open breaker answers at once, unless the server says otherwise. */
export const BREAKER_OPEN_MS = 5_000;
export const DEFAULT_BREAKER: BreakerSettings = { threshold: BREAKER_THRESHOLD, openMs: BREAKER_OPEN_MS };

/**
 * A circuit breaker around the network calls to one endpoint of one server (its introspection endpoint,
 * or its JWKS), so that a server that stops answering costs callers a fast 503, not a `timeoutMs` wait:
 * - closed: calls go through; `threshold` timeouts in a row open it. Any answer (even a 5xx, which
 *   comes fast) resets the count: only a hung server is worth short-circuiting.
 * - open: for `openMs` every call fails at once with `circuit_open`.
 * - half-open: then exactly one call (the probe) goes through while the others still fail at once; an
 *   answer closes the breaker, a timeout opens it again.
 * One breaker per endpoint per server runtime, so a changed server (a new runtime) starts closed. Only
 * network calls are guarded: JWTs whose keys are cached are verified whatever the breaker says.
 */
export class Breaker {
  private timeouts = 0;
  /** 0 while closed; else when the open period ends (then half-open). */
  private openUntil = 0;
  private probing = false;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly server: string,
    private readonly endpoint: string,
    private readonly settings: BreakerSettings = DEFAULT_BREAKER,
  ) {}

  async run<T>(call: () => Promise<T>): Promise<T> {
    const probe = this.admit();
    try {
      const result = await call();
      this.close();
      return result;
    } catch (error) {
      if (error instanceof UpstreamError && error.reason === "timeout") this.timedOut(probe);
      else this.close();
      throw error;
    } finally {
      if (probe) this.probing = false;
    }
  }

  /** True when this call is the half-open probe; throws while the breaker is open. */
  private admit(): boolean {
    if (this.openUntil === 0) return false;
    const now = this.clock.now();
    if (now < this.openUntil || this.probing)
      throw new UpstreamError(
        "circuit_open",
        `${this.endpoint} of ${this.server} keeps timing out; not called for ${Math.max(1, Math.ceil((this.openUntil - now) / 1000))} s`,
      );
    this.probing = true;
    return true;
  }

  private close(): void {
    this.timeouts = 0;
    this.openUntil = 0;
  }

  private timedOut(probe: boolean): void {
    if (!probe && ++this.timeouts < this.settings.threshold) return;
    this.timeouts = 0;
    this.openUntil = this.clock.now() + this.settings.openMs;
    this.log.warn(
      { event: "external_server_circuit_open", server: this.server, endpoint: this.endpoint },
      `${this.endpoint} of ${this.server} keeps timing out: answering 503 at once for ${this.settings.openMs / 1000} s`,
    );
  }
}
