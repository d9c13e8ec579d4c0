import type { Clock } from "../../kernel/clock.js";
import { UpstreamError } from "./upstream-error.js";

/** Consecutive timeouts that open the breaker. */
export const BREAKER_THRESHOLD = 3;
/** How long an open breaker answers at once, without calling the server. */
export const BREAKER_OPEN_MS = 5_000;

/**
 * A circuit breaker for a server that stops answering: after BREAKER_THRESHOLD consecutive timeouts, calls
 * fail at once for BREAKER_OPEN_MS instead of each waiting `timeoutMs`, so a hung third party costs
 * callers a fast 503, not a slow one. Then one call is let through again (half-open).
 */
export class Breaker {
  private timeouts = 0;
  private openUntil = 0;

  constructor(private readonly clock: Clock) {}

  /** Throws an UpstreamError while the breaker is open. */
  admit(): void {
    const now = this.clock.now();
    if (now < this.openUntil)
      throw new UpstreamError(
        "circuit_open",
        `the server timed out ${BREAKER_THRESHOLD} times in a row; not called for ${Math.ceil((this.openUntil - now) / 1000)} s`,
      );
  }

  succeeded(): void {
    this.timeouts = 0;
  }

  /** Records a failure; true when it opens the breaker. */
  failed(error: UpstreamError): boolean {
    if (error.reason !== "timeout") {
      this.timeouts = 0;
      return false;
    }
    if (++this.timeouts < BREAKER_THRESHOLD) return false;
    this.timeouts = 0;
    this.openUntil = this.clock.now() + BREAKER_OPEN_MS;
    return true;
  }
}
