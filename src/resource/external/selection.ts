import type { Clock } from "../../kernel/clock.js";
import type { SettingsRepository } from "../../storage/repositories/settings.js";

/** The global setting that names the authorization server of opaque bearer tokens. */
export const LOCAL = "local";
export const SETTINGS_KEY = "oauth";
/** A lost change notification (another node) delays a settings change by at most this. */
const TTL_MS = 5_000;

/**
 * Reads `authorizationServer` from the global OAuth settings (default `local`) through a tiny cache that
 * the change feed clears (`{kind: "settings", key: "oauth"}`), so the request path does not hit the
 * database.
 */
export class AuthorizationServerSetting {
  private cached: { value: string; until: number } | undefined;
  private loading: Promise<string> | undefined;

  constructor(
    private readonly settings: SettingsRepository,
    private readonly clock: Clock,
  ) {}

  /** The setting: the cached value at once, or a promise while it is read. */
  current(): string | Promise<string> {
    const cached = this.cached;
    if (cached && this.clock.now() < cached.until) return cached.value;
    this.loading ??= this.read().finally(() => (this.loading = undefined));
    return this.loading;
  }

  invalidate(): void {
    this.cached = undefined;
    this.loading = undefined;
  }

  private async read(): Promise<string> {
    const settings = await this.settings.get<{ authorizationServer?: unknown }>(SETTINGS_KEY);
    const raw = settings?.authorizationServer;
    const value = typeof raw === "string" && raw !== "" ? raw : LOCAL;
    this.cached = { value, until: this.clock.now() + TTL_MS };
    return value;
  }
}
