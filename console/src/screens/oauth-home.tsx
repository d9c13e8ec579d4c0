import { Link } from "../router.js";
import type { ScreenProps } from "../routes.js";
import {
  OAuthPage,
  PATHS,
  seconds,
  YesNo,
  type Client,
  type ExternalServer,
  type OAuthSettings,
  type Scope,
} from "../oauth-common.js";
import { Loading, useResource } from "../ui.js";

/**
 * Security > OAuth: the global settings in brief and the way to every OAuth page (the tab bar), with
 * the "Add External Authorization Server" link of the article.
 */
export default function OAuthHome(_props: ScreenProps) {
  const settings = useResource<OAuthSettings>("/admin/api/oauth/settings");
  const servers = useResource<ExternalServer[]>("/admin/api/oauth/external-servers");
  const clients = useResource<Client[]>("/admin/api/oauth/clients");
  const scopes = useResource<Scope[]>("/admin/api/oauth/scopes");
  const s = settings.data;
  return (
    <OAuthPage title="OAuth">
      <div class="split">
        <section class="panel" aria-labelledby="oauth-global">
          <h2 id="oauth-global">Global settings</h2>
          <Loading problem={settings.problem} loading={settings.loading}>
            {s ? (
              <dl class="facts stack">
                <dt>Authorization server</dt>
                <dd>
                  {s.authorizationServer === "local"
                    ? "local (this server issues and checks the tokens)"
                    : `${s.authorizationServer} (external)`}
                </dd>
                <dt>Require HTTPS</dt>
                <dd>
                  <YesNo value={s.requireHttps} />
                </dd>
                <dt>Require PKCE</dt>
                <dd>
                  <YesNo value={s.requirePkce} />
                </dd>
                <dt>Authorization code lifetime</dt>
                <dd>{seconds(s.authorizationCodeLifetime)}</dd>
                <dt>Access token lifetime</dt>
                <dd>{seconds(s.accessTokenLifetime)}</dd>
                <dt>Refresh token lifetime</dt>
                <dd>{seconds(s.refreshTokenLifetime)}</dd>
              </dl>
            ) : null}
          </Loading>
          <p class="hint">Change these with Edit Global Settings above.</p>
        </section>
        <section class="panel" aria-labelledby="oauth-external">
          <h2 id="oauth-external">External authorization servers</h2>
          <Loading problem={servers.problem} loading={servers.loading}>
            {servers.data && servers.data.length > 0 ? (
              <ul class="list">
                {servers.data.map((server) => (
                  <li key={server.name}>
                    <Link
                      href={`${PATHS.externalServers}/${encodeURIComponent(server.name)}`}
                      aria-label={`Edit external server ${server.name}`}
                    >
                      {server.name}
                    </Link>
                    {s?.authorizationServer === server.name ? (
                      <>
                        {" "}
                        <span class="badge ok">selected</span>
                      </>
                    ) : null}
                  </li>
                ))}
              </ul>
            ) : servers.data ? (
              <p class="muted">None yet. Add one to accept tokens issued by Okta or another OAuth server.</p>
            ) : null}
          </Loading>
          <p>
            <Link href={`${PATHS.externalServers}/new`} class="button">
              Add External Authorization Server
            </Link>
          </p>
        </section>
      </div>
      <section class="panel" aria-labelledby="oauth-counts">
        <h2 id="oauth-counts">This server as the authorization server</h2>
        <ul class="list">
          <li>
            {clients.data
              ? `${clients.data.length} client${clients.data.length === 1 ? "" : "s"}`
              : "Clients"}{" "}
            registered: <Link href={`${PATHS.clients}/new`}>Add Client</Link>
          </li>
          <li>
            {scopes.data ? `${scopes.data.length} scope${scopes.data.length === 1 ? "" : "s"}` : "Scopes"}{" "}
            defined: <Link href={`${PATHS.scopes}/new`}>Add Scope</Link>
          </li>
        </ul>
      </section>
    </OAuthPage>
  );
}
