import { safeEqual } from "../kernel/crypto.js";
import { ConduitError, ForbiddenError, UnauthorizedError } from "../kernel/errors.js";
import type { Logger } from "../kernel/logger.js";
import type { ChangeFeed } from "../storage/change-feed.js";
import type { UserRecord } from "../storage/repositories/users.js";
import { systemClock, type Clock } from "../kernel/clock.js";
import { nodeCovers } from "../services/types.js";
import type { Authenticator, AuthRequest } from "../security/authentication.js";
import { parseAuthorization } from "../security/authentication.js";
import type { UserDirectory } from "../security/directory.js";
import { principalFor, type Principal } from "../security/principal.js";
import { REALM } from "../security/basic.js";
import type { ActiveToken, ScopeCatalog, VerifierSelector } from "./types.js";

interface Remembered {
  header: string;
  epoch: number;
  /** The earlier of the token's expiry and how long its verifier vouches for the answer. */
  until: number;
  user: UserRecord;
  principal: Principal;
  /** RFC 8705: the certificate a bound token requires, checked again on every remembered use. */
  thumbprint: string | undefined;
}

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Bearer tokens on /invoke (RFC 6750). The token is verified by the authorization server that the global
 * settings (or the JWT's issuer) select; the request then runs as the token's user, and each service is
 * checked against the token's scopes per request (never cached).
 *
 * RFC 6750 §3: no token → 401 with only `Bearer realm`; an invalid token → 401 error="invalid_token";
 * scopes that do not cover the service → 403 error="insufficient_scope".
 */
export class BearerAuthenticator implements Authenticator {
  readonly scheme = "bearer";
  readonly challenge = `Bearer realm="${REALM}"`;

  constructor(
    private readonly select: VerifierSelector,
    private readonly scopes: ScopeCatalog,
    private readonly directory: UserDirectory,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
    changes?: ChangeFeed,
  ) {
    // Any change at all (a revocation, a client, a user, the settings) forgets every remembered token.
    changes?.subscribe(() => (this.epoch += 1));
  }

  private epoch = 0;
  private readonly byConnection = new WeakMap<object, Remembered>();

  /**
   * A token this connection presented before, while its verifier vouches for the answer (reusableUntil),
   * nothing has changed since, it has not expired and its user is unchanged: no digest, no look-up.
   */
  cached(request: AuthRequest): Principal | undefined {
    const remembered = request.connection && this.byConnection.get(request.connection);
    if (
      !remembered ||
      remembered.header !== request.authorization ||
      remembered.epoch !== this.epoch ||
      remembered.until <= this.clock.now() ||
      this.directory.peek(remembered.user.username) !== remembered.user ||
      // A bound token only with its certificate (fails closed: no certificate, no memory).
      (remembered.thumbprint !== undefined && request.clientCertificate?.thumbprint !== remembered.thumbprint)
    )
      return undefined;
    return remembered.principal;
  }

  async authenticate(request: AuthRequest): Promise<Principal | null> {
    const parsed = parseAuthorization(request.authorization);
    if (!parsed || parsed.scheme !== "bearer") return null;
    // RFC 6750 §2.1: b64token syntax.
    if (!TOKEN68.test(parsed.value)) throw this.invalid("malformed bearer token", request.ip);
    const epoch = this.epoch;
    const verifier = await this.select(parsed.value);
    const token = await verifier.verify(parsed.value);
    if (!token) throw this.invalid("the access token is not active", request.ip);
    if (token.expiresAt !== undefined && token.expiresAt <= this.clock.now())
      throw this.invalid("the access token has expired", request.ip);
    // RFC 8705 §3: a certificate-bound token is accepted only on a connection presenting that certificate.
    if (
      token.certificateThumbprint !== undefined &&
      !(
        request.clientCertificate !== undefined &&
        safeEqual(request.clientCertificate.thumbprint, token.certificateThumbprint)
      )
    )
      throw this.invalid(
        "the access token is bound to a client certificate this connection did not present",
        request.ip,
      );
    const user = await this.directory.get(token.runAs);
    if (!user) {
      this.log.error(
        { event: "bearer_refused", server: token.server, runAs: token.runAs },
        "run-as user does not exist",
      );
      throw this.invalid("the token's user does not exist", request.ip);
    }
    const principal = principalFor(user, "bearer");
    principal.token = {
      scopes: token.scopes,
      server: token.server,
      ...(token.clientId === undefined ? {} : { clientId: token.clientId }),
    };
    principal.authorizeService = (serviceName) => this.authorizeService(token, serviceName, request.ip);
    if (
      token.reusableUntil !== undefined &&
      request.connection &&
      request.authorization &&
      epoch === this.epoch
    )
      this.byConnection.set(request.connection, {
        header: request.authorization,
        epoch,
        until: Math.min(token.reusableUntil, token.expiresAt ?? Number.MAX_SAFE_INTEGER),
        user,
        principal,
        thumbprint: token.certificateThumbprint,
      });
    return principal;
  }

  /** At once when the scopes are in memory and one covers the service; else the full check below. */
  private authorizeService(token: ActiveToken, serviceName: string, ip: string): void | Promise<void> {
    const scopes = this.scopes.loaded?.();
    if (scopes)
      for (const name of token.scopes)
        if (scopes.get(name)?.values.some((node) => nodeCovers(node, serviceName))) return;
    return this.checkScopes(token, serviceName, ip);
  }

  private async checkScopes(token: ActiveToken, serviceName: string, ip: string): Promise<void> {
    for (const name of token.scopes) {
      const scope = await this.scopes.get(name);
      if (scope?.values.some((node) => nodeCovers(node, serviceName))) return;
    }
    const needed = (await this.scopes.list())
      .filter((s) => s.values.some((node) => nodeCovers(node, serviceName)))
      .map((s) => s.name);
    this.log.info(
      {
        event: "bearer_refused",
        reason: "insufficient_scope",
        service: serviceName,
        server: token.server,
        ip,
      },
      "token scopes do not cover the service",
    );
    const scopeParam = needed.length > 0 ? `, scope="${needed.join(" ")}"` : "";
    throw new ForbiddenError(`the token's scopes do not cover ${serviceName}`, "insufficient_scope", {
      "www-authenticate": `Bearer realm="${REALM}", error="insufficient_scope", error_description="The token's scopes do not cover this service"${scopeParam}`,
    });
  }

  private invalid(reason: string, ip: string): ConduitError {
    this.log.info({ event: "bearer_refused", reason, ip }, "bearer token refused");
    return new UnauthorizedError(
      reason,
      `Bearer realm="${REALM}", error="invalid_token", error_description="${reason}"`,
      "invalid_token",
    );
  }
}
