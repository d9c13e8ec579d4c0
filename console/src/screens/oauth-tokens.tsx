import { useState } from "preact/hooks";
import { api, seg } from "../api.js";
import type { ScreenProps } from "../routes.js";
import { OAuthPage, type Client, type Token, type User } from "../oauth-common.js";
import { ActionButton, Loading, Notice, SelectField, useResource, when } from "../ui.js";

type Removed = { removed: number; codes: number; initialAccessTokens: number };

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * Security > OAuth > Tokens: the tokens this server issued (never their values), filtered by client,
 * user and state; revoke one; Remove Expired Tokens (pub.oauth:removeExpiredAccessTokens).
 */
export default function OAuthTokens(_props: ScreenProps) {
  const [clientId, setClientId] = useState("");
  const [user, setUser] = useState("");
  const [active, setActive] = useState("");
  const [removed, setRemoved] = useState<Removed | undefined>(undefined);
  const [revoked, setRevoked] = useState<string | undefined>(undefined);
  const query = new URLSearchParams({
    ...(clientId ? { clientId } : {}),
    ...(user ? { user } : {}),
    ...(active ? { active } : {}),
  }).toString();
  const tokens = useResource<Token[]>(`/admin/api/oauth/tokens${query ? `?${query}` : ""}`);
  const clients = useResource<Client[]>("/admin/api/oauth/clients");
  const users = useResource<User[]>("/admin/api/users");
  const clientName = (id: string) => {
    const c = clients.data?.find((x) => x.clientId === id);
    return c ? `${c.clientName} ${c.version}` : id;
  };
  const status = (t: Token) =>
    t.revoked ? (
      <span class="badge bad">Revoked</span>
    ) : t.active ? (
      <span class="badge ok">Active</span>
    ) : t.expires && new Date(t.expires).getTime() <= Date.now() ? (
      <span class="badge">Expired</span>
    ) : (
      <span class="badge">Used (rotated)</span>
    );

  return (
    <OAuthPage
      title="Tokens"
      actions={
        <ActionButton
          label="Remove Expired Tokens"
          busyLabel="Removing expired tokens…"
          class="secondary"
          onClick={async () => {
            setRemoved(undefined);
            setRemoved(await api.post<Removed>("/invoke/pub.oauth/removeExpiredAccessTokens", {}));
            await tokens.reload();
          }}
        />
      }
    >
      {removed ? (
        <Notice>
          Removed {plural(removed.removed, "expired token")} (and{" "}
          {plural(removed.codes, "expired authorization code")},{" "}
          {plural(removed.initialAccessTokens, "expired initial access token")}).
        </Notice>
      ) : null}
      {revoked ? <Notice>Token {revoked} revoked: it is refused from the next request on.</Notice> : null}
      <form class="filters" aria-label="Filter tokens" onSubmit={(e) => e.preventDefault()}>
        <SelectField
          label="Client"
          name="clientId"
          value={clientId}
          onChange={setClientId}
          options={[
            { value: "", label: "All clients" },
            ...(clients.data ?? []).map((c) => ({
              value: c.clientId,
              label: `${c.clientName} ${c.version}`,
            })),
          ]}
        />
        <SelectField
          label="User"
          name="user"
          value={user}
          onChange={setUser}
          options={[
            { value: "", label: "All users" },
            ...(users.data ?? []).map((u) => ({ value: u.username })),
          ]}
        />
        <SelectField
          label="State"
          name="active"
          value={active}
          onChange={setActive}
          options={[
            { value: "", label: "Active and inactive" },
            { value: "true", label: "Active only" },
            { value: "false", label: "Inactive only (expired, revoked, rotated)" },
          ]}
        />
      </form>
      <Loading problem={tokens.problem} loading={tokens.loading}>
        {tokens.data && tokens.data.length === 0 ? <p>No tokens match.</p> : null}
        {tokens.data && tokens.data.length > 0 ? (
          <div class="table-wrap">
            <table>
              <caption>
                {plural(tokens.data.length, "token")}
                {tokens.loading ? " (refreshing…)" : ""}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Token</th>
                  <th scope="col">Type</th>
                  <th scope="col">Client</th>
                  <th scope="col">Owner</th>
                  <th scope="col">Scope</th>
                  <th scope="col">Issued</th>
                  <th scope="col">Expires</th>
                  <th scope="col">State</th>
                  <th scope="col">Refreshes</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {tokens.data.map((t) => (
                  <tr key={t.id}>
                    <th scope="row">
                      <code class="token-id">{t.id}</code>
                    </th>
                    <td class="nowrap">{t.type === "access_token" ? "access" : "refresh"}</td>
                    <td>{clientName(t.clientId)}</td>
                    <td>{t.owner ?? <span class="muted">—</span>}</td>
                    <td>
                      <code>{t.scope}</code>
                    </td>
                    <td>{when(t.issued)}</td>
                    <td>{t.expires ? when(t.expires) : "never"}</td>
                    <td>{status(t)}</td>
                    <td>{t.refreshCount ?? <span class="muted">—</span>}</td>
                    <td>
                      {t.revoked ? (
                        <span class="muted">revoked {when(t.revokedAt)}</span>
                      ) : (
                        <ActionButton
                          label="Revoke"
                          busyLabel="Revoking…"
                          class="danger"
                          aria-label={`Revoke token ${t.id}`}
                          confirm={
                            t.type === "refresh_token"
                              ? `Revoke the refresh token ${t.id}? Its whole grant (every access token issued from it) is revoked with it.`
                              : `Revoke the access token ${t.id}?`
                          }
                          onClick={async () => {
                            await api.del(`/admin/api/oauth/tokens/${seg(t.id)}`);
                            setRevoked(t.id);
                            await tokens.reload();
                          }}
                        />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Loading>
    </OAuthPage>
  );
}
