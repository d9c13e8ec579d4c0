import { BadRequestError } from "../kernel/errors.js";
import type { OAuthServer } from "../oauth/context.js";
import { ACCESS_TOKEN_FORMATS, OAUTH_SETTINGS_KEY, type OAuthSettings } from "../oauth/settings.js";
import type { SettingsRepository } from "../storage/repositories/settings.js";
import { audit, type Actor } from "./audit.js";
import { asBody, bool, int, onlyFields, str } from "./input.js";

const DAY = 86_400;
const INTEGERS: Record<string, { min: number; max: number }> = {
  authorizationCodeLifetime: { min: 1, max: DAY },
  accessTokenLifetime: { min: 0, max: 3650 * DAY },
  refreshTokenLifetime: { min: 0, max: 3650 * DAY },
  refreshGraceSeconds: { min: 0, max: 600 },
  secretOverlapSeconds: { min: 0, max: 365 * DAY },
  initialAccessTokenLifetime: { min: 60, max: 365 * DAY },
  sweepIntervalSeconds: { min: 1, max: DAY },
};
const BOOLEANS = ["requireHttps", "trustForwardedProto", "requirePkce"];
const TEXTS = ["approvalTitle", "approvalHeading", "approvalFooter"];
const FIELDS = ["authorizationServer", "accessTokenFormat", ...BOOLEANS, ...Object.keys(INTEGERS), ...TEXTS];

/** `/admin/api/oauth/settings`: the global OAuth settings, stored under the settings key `oauth`. */
export class OAuthSettingsAdmin {
  constructor(
    private readonly server: OAuthServer,
    private readonly repository: SettingsRepository,
    private readonly externalServerExists: (name: string) => Promise<boolean>,
  ) {}

  get(): Promise<OAuthSettings> {
    return this.server.settings.get();
  }

  /** A partial update: only the fields given change. */
  async update(actor: Actor, input: unknown): Promise<OAuthSettings> {
    const body = asBody(input);
    onlyFields(body, FIELDS);
    const changes: Record<string, unknown> = {};
    const server = str(body, "authorizationServer", { required: false, max: 255 });
    if (server !== undefined) {
      if (server.trim() === "")
        throw new BadRequestError("invalid_field", "authorizationServer must not be empty", {
          field: "authorizationServer",
        });
      if (server !== "local" && !(await this.externalServerExists(server)))
        throw new BadRequestError(
          "unknown_authorization_server",
          `authorizationServer ${server} is neither "local" nor an external authorization server`,
          { field: "authorizationServer", unknown: server },
        );
      changes.authorizationServer = server;
    }
    const format = str(body, "accessTokenFormat", { max: 16 });
    if (format !== undefined) {
      if (!(ACCESS_TOKEN_FORMATS as readonly string[]).includes(format))
        throw new BadRequestError(
          "invalid_field",
          `accessTokenFormat must be ${ACCESS_TOKEN_FORMATS.join(" or ")}`,
          {
            field: "accessTokenFormat",
          },
        );
      changes.accessTokenFormat = format;
    }
    for (const name of BOOLEANS) if (bool(body, name) !== undefined) changes[name] = body[name];
    for (const [name, range] of Object.entries(INTEGERS))
      if (int(body, name, range) !== undefined) changes[name] = body[name];
    for (const name of TEXTS) if (str(body, name, { max: 500 }) !== undefined) changes[name] = body[name];
    const stored = (await this.repository.get<Record<string, unknown>>(OAUTH_SETTINGS_KEY)) ?? {};
    await this.repository.put(OAUTH_SETTINGS_KEY, { ...stored, ...changes }, this.server.clock.now());
    this.server.settings.invalidate();
    this.server.changes.publish({ kind: "settings", key: OAUTH_SETTINGS_KEY });
    audit(this.server.log, actor, "oauth.settings.update", OAUTH_SETTINGS_KEY, { changes });
    return this.server.settings.get();
  }
}
