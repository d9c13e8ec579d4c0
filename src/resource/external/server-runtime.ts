import type { Clock } from "../../kernel/clock.js";
import type { Logger } from "../../kernel/logger.js";
import type { SecretBox } from "../../kernel/secret-box.js";
import type { TokenVerifier } from "../types.js";
import type { BreakerSettings } from "./breaker.js";
import type { ClaimMapping } from "./claims.js";
import { IntrospectionClient } from "./introspection-client.js";
import { IntrospectionVerifier } from "./introspection-verifier.js";
import { JwtVerifier } from "./jwt-verifier.js";
import type { ResourceMetrics } from "./metrics.js";
import type { ExternalServerRecord } from "./repository.js";
import { tlsAgent, tlsOptionsOf } from "./tls.js";
import { TokenCache, type CachePolicy } from "./token-cache.js";
import type { Agent } from "undici";

export interface RuntimeDeps {
  secretBox: SecretBox;
  clock: Clock;
  metrics: ResourceMetrics;
  log: Logger;
}

/** Largest number of cached verdicts per external server. */
export const CACHE_MAX = 10_000;

/**
 * One configured external server, ready to verify tokens: its connection pool, its cache and its two
 * verifiers. Built from a stored record; dropped whole (cache included) when the record changes.
 */
export class ServerRuntime {
  readonly introspection: TokenVerifier;
  /** Present when the server has an issuer and a JWKS URI: JWTs of that issuer are verified locally. */
  readonly jwt: TokenVerifier | undefined;
  private readonly client: IntrospectionClient;
  private readonly cache: TokenCache;
  /** JWKS connections, presenting the server's client certificate when it has one. */
  private readonly agent: Agent | undefined;

  constructor(
    readonly record: ExternalServerRecord,
    deps: RuntimeDeps,
  ) {
    const { clock, metrics, log } = deps;
    const policy: CachePolicy = {
      activeTtlMs: record.cacheTtlSeconds * 1000,
      inactiveTtlMs: record.inactiveCacheTtlSeconds * 1000,
      staleIfErrorMs: record.staleIfErrorSeconds * 1000,
    };
    // One cache per server: the key is a digest of the server's name and the token.
    this.cache = new TokenCache(record.name, policy, clock, CACHE_MAX);
    const mapping: ClaimMapping = {
      server: record.name,
      user: record.user,
      subjectClaim: record.subjectClaim,
      audience: record.audience,
    };
    const tls = tlsOptionsOf(record, deps.secretBox);
    this.client = new IntrospectionClient({
      url: record.introspectionEndpoint,
      clientId: record.clientId,
      clientSecret: deps.secretBox.open(record.sealedClientSecret),
      timeoutMs: record.timeoutMs,
      ...(tls ? { tls } : {}),
    });
    this.agent = tls && record.jwksUri ? tlsAgent(tls, record.timeoutMs) : undefined;
    // The server's own breaker settings (a change makes a new runtime, so its breakers start closed).
    const breaker: BreakerSettings = {
      threshold: record.breakerThreshold,
      openMs: record.breakerOpenSeconds * 1000,
    };
    this.introspection = new IntrospectionVerifier(
      this.client,
      mapping,
      this.cache,
      clock,
      metrics,
      log,
      breaker,
    );
    this.jwt =
      record.issuer && record.jwksUri
        ? new JwtVerifier(
            {
              issuer: record.issuer,
              jwksUri: record.jwksUri,
              audience: record.audience,
              timeoutMs: record.timeoutMs,
              ...(this.agent ? { dispatcher: this.agent } : {}),
            },
            mapping,
            this.cache,
            clock,
            metrics,
            log,
            breaker,
          )
        : undefined;
  }

  async close(): Promise<void> {
    this.cache.clear();
    await this.client.close().catch(() => undefined);
    await this.agent?.close().catch(() => undefined);
  }
}
