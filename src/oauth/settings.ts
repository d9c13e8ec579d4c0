import type { ChangeFeed } from "../storage/change-feed.js";
import type { SettingsRepository } from "../storage/repositories/settings.js";

/** The settings key under which the global OAuth settings are stored (read by the external-server module too). */
export const OAUTH_SETTINGS_KEY = "oauth";

export const ACCESS_TOKEN_FORMATS = ["opaque", "jwt"] as const;
export type AccessTokenFormat = (typeof ACCESS_TOKEN_FORMATS)[number];

/** Global OAuth settings (admin API `/admin/api/oauth/settings`). Lifetimes are seconds; 0 means never. */
export interface OAuthSettings {
  /** Who checks bearer tokens on /invoke: `local` (this server) or an external server's name. */
  authorizationServer: string;
  /** Refuse OAuth requests over plain HTTP, except from loopback (RFC 6749 §3.1, §3.2; RFC 9700 §2). */
  requireHttps: boolean;
  /** Believe X-Forwarded-Proto from a reverse proxy when deciding whether a request came over HTTPS. */
  trustForwardedProto: boolean;
  /** PKCE for every client; public clients need it regardless (RFC 9700 §2.1.1). */
  requirePkce: boolean;
  /** `opaque` (256 random bits) or `jwt` (RFC 9068, signed with signing-keys.ts); a client may override it. */
  accessTokenFormat: AccessTokenFormat;
  authorizationCodeLifetime: number;
  accessTokenLifetime: number;
  refreshTokenLifetime: number;
  /** Seconds after a rotation in which a retry of the same refresh token still succeeds. */
  refreshGraceSeconds: number;
  /** Seconds a client's previous secret keeps working after a new one is generated. */
  secretOverlapSeconds: number;
  initialAccessTokenLifetime: number;
  /** How often expired tokens and codes are swept, in seconds. */
  sweepIntervalSeconds: number;
  /** Approval page texts (IS lets these be customised). */
  approvalTitle: string;
  approvalHeading: string;
  approvalFooter: string;
}

export const DEFAULT_SETTINGS: OAuthSettings = {
  authorizationServer: "local",
  requireHttps: true,
  trustForwardedProto: false,
  requirePkce: false,
  accessTokenFormat: "opaque",
  authorizationCodeLifetime: 600,
  accessTokenLifetime: 3600,
  refreshTokenLifetime: 30 * 86400,
  refreshGraceSeconds: 10,
  secretOverlapSeconds: 86400,
  initialAccessTokenLifetime: 86400,
  sweepIntervalSeconds: 300,
  approvalTitle: "Access Approval",
  approvalHeading: "Access Approval",
  approvalFooter: "",
};

/** The stored settings, read through a cache dropped on a `settings`/`oauth` change. */
export class OAuthSettingsStore {
  private cached: Promise<OAuthSettings> | undefined;
  private loadedAt = 0;

  /** The TTL bounds staleness should a change notification from another node be lost. */
  constructor(
    private readonly repository: SettingsRepository,
    changes: ChangeFeed,
    private readonly ttlMs = 5_000,
  ) {
    changes.subscribe((change) => {
      if (change.kind === "settings" && (change.key === undefined || change.key === OAUTH_SETTINGS_KEY))
        this.cached = undefined;
    });
  }

  get(): Promise<OAuthSettings> {
    if (this.cached && Date.now() - this.loadedAt > this.ttlMs) this.cached = undefined;
    if (!this.cached) this.loadedAt = Date.now();
    this.cached ??= this.load().catch((error: unknown) => {
      this.cached = undefined;
      throw error;
    });
    return this.cached;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  private async load(): Promise<OAuthSettings> {
    const stored = await this.repository.get<Partial<OAuthSettings>>(OAUTH_SETTINGS_KEY);
    return { ...DEFAULT_SETTINGS, ...(stored ?? {}) };
  }
}

/** Reads the settings once, without a cache (for modules that keep their own). */
export async function readOAuthSettings(repository: SettingsRepository): Promise<OAuthSettings> {
  const stored = await repository.get<Partial<OAuthSettings>>(OAUTH_SETTINGS_KEY);
  return { ...DEFAULT_SETTINGS, ...(stored ?? {}) };
}
