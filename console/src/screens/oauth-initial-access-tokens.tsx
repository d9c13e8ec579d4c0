import { useState } from "preact/hooks";
import { api, seg } from "../api.js";
import type { ScreenProps } from "../routes.js";
import {
  NumberField,
  OAuthPage,
  optionalNumber,
  seconds,
  type InitialAccessToken,
  type OAuthSettings,
} from "../oauth-common.js";
import { ActionButton, Form, Loading, Notice, SecretOnce, useResource, when } from "../ui.js";

/**
 * Security > OAuth > Initial Access Tokens: the one-time tokens a client presents to register itself
 * (RFC 7591 at /oauth2/register). Each is shown once, when created; Conduit keeps only its digest.
 */
export default function InitialAccessTokens(_props: ScreenProps) {
  const tokens = useResource<InitialAccessToken[]>("/admin/api/oauth/initial-access-tokens");
  const settings = useResource<OAuthSettings>("/admin/api/oauth/settings");
  const [expiresIn, setExpiresIn] = useState("");
  const [created, setCreated] = useState<{ id: string; token: string; expiresAt: string } | undefined>(
    undefined,
  );
  const [deleted, setDeleted] = useState<string | undefined>(undefined);
  const state = (t: InitialAccessToken) =>
    t.usedAt ? (
      <span class="badge">Used</span>
    ) : new Date(t.expiresAt).getTime() <= Date.now() ? (
      <span class="badge bad">Expired</span>
    ) : (
      <span class="badge ok">Unused</span>
    );
  return (
    <OAuthPage title="Initial Access Tokens">
      <section class="panel" aria-labelledby="iat-create">
        <h2 id="iat-create">Create an initial access token</h2>
        {created ? (
          <>
            <Notice>
              Initial access token {created.id} created; it expires {when(created.expiresAt)}.
            </Notice>
            <SecretOnce label="Initial access token" value={created.token} />
          </>
        ) : null}
        <Form
          aria-label="Create an initial access token"
          submitLabel="Create Token"
          busyLabel="Creating…"
          onSubmit={async () => {
            const lifetime = optionalNumber(expiresIn, "expiresIn", "The lifetime");
            setCreated(undefined);
            setDeleted(undefined);
            const answer = await api.post<{ id: string; token: string; expiresAt: string }>(
              "/admin/api/oauth/initial-access-tokens",
              lifetime === undefined ? {} : { expiresIn: lifetime },
            );
            setCreated(answer);
            setExpiresIn("");
            await tokens.reload();
          }}
        >
          <NumberField
            label="Lifetime (seconds)"
            name="expiresIn"
            value={expiresIn}
            onInput={setExpiresIn}
            hint={`From 60 to 31536000; empty: the global setting${settings.data ? ` (${seconds(settings.data.initialAccessTokenLifetime)})` : ""}. A token registers one client.`}
          />
        </Form>
      </section>
      {deleted ? <Notice>Initial access token {deleted} deleted.</Notice> : null}
      <Loading problem={tokens.problem} loading={tokens.loading}>
        {tokens.data && tokens.data.length === 0 ? <p>No initial access tokens.</p> : null}
        {tokens.data && tokens.data.length > 0 ? (
          <div class="table-wrap">
            <table>
              <caption>Initial access tokens</caption>
              <thead>
                <tr>
                  <th scope="col">ID</th>
                  <th scope="col">Created by</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                  <th scope="col">State</th>
                  <th scope="col">Used by client</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {tokens.data.map((t) => (
                  <tr key={t.id}>
                    <th scope="row">
                      <code>{t.id}</code>
                    </th>
                    <td>{t.createdBy}</td>
                    <td class="nowrap">{when(t.createdAt)}</td>
                    <td class="nowrap">{when(t.expiresAt)}</td>
                    <td>
                      {state(t)}
                      {t.usedAt ? ` ${when(t.usedAt)}` : ""}
                    </td>
                    <td>{t.usedByClient ? <code>{t.usedByClient}</code> : <span class="muted">—</span>}</td>
                    <td>
                      <ActionButton
                        label="Delete"
                        busyLabel="Deleting…"
                        class="danger"
                        aria-label={`Delete initial access token ${t.id}`}
                        confirm={`Delete the initial access token ${t.id}? It can no longer register a client.`}
                        onClick={async () => {
                          await api.del(`/admin/api/oauth/initial-access-tokens/${seg(t.id)}`);
                          setDeleted(t.id);
                          if (created?.id === t.id) setCreated(undefined);
                          await tokens.reload();
                        }}
                      />
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
