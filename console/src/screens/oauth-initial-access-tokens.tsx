import { useState } from "preact/hooks";
import { api, seg } from "../api.js";
import type { ScreenProps } from "../routes.js";
import {
  GRANTS,
  NumberField,
  OAuthPage,
  optionalNumber,
  seconds,
  type InitialAccessToken,
  type OAuthSettings,
  type Scope,
  type User,
} from "../oauth-common.js";
import {
  ActionButton,
  CheckboxGroup,
  Form,
  Loading,
  Notice,
  SecretOnce,
  SelectField,
  useResource,
  when,
} from "../ui.js";

/** The admin view with the token's policy (issue 12). */
type PolicyToken = InitialAccessToken & {
  runAsUser?: string | null;
  scopes?: string[] | null;
  grantTypes?: string[];
  maxUses?: number;
  usesLeft?: number;
};

const grantLabel = (value: string) => GRANTS.find((g) => g.value === value)?.label ?? value;

/**
 * Security > OAuth > Initial Access Tokens: the tokens a client presents to register itself (RFC 7591 at
 * /oauth2/register), each with its policy: the run-as user of the clients it registers (what client
 * credentials needs), the scopes and grants a registration may ask for, how many registrations it allows.
 * Each is shown once, when created; Conduit keeps only its digest.
 */
export default function InitialAccessTokens(_props: ScreenProps) {
  const tokens = useResource<PolicyToken[]>("/admin/api/oauth/initial-access-tokens");
  const settings = useResource<OAuthSettings>("/admin/api/oauth/settings");
  const scopes = useResource<Scope[]>("/admin/api/oauth/scopes");
  const users = useResource<User[]>("/admin/api/users");
  const [expiresIn, setExpiresIn] = useState("");
  const [maxUses, setMaxUses] = useState("");
  const [runAsUser, setRunAsUser] = useState("");
  const [chosenScopes, setChosenScopes] = useState<string[]>([]);
  const [grantTypes, setGrantTypes] = useState<string[]>([]);
  const [created, setCreated] = useState<{ id: string; token: string; expiresAt: string } | undefined>(
    undefined,
  );
  const [deleted, setDeleted] = useState<string | undefined>(undefined);
  const state = (t: PolicyToken) =>
    (t.usesLeft ?? (t.usedAt ? 0 : 1)) === 0 ? (
      <span class="badge">Used</span>
    ) : new Date(t.expiresAt).getTime() <= Date.now() ? (
      <span class="badge bad">Expired</span>
    ) : (
      <span class="badge ok">{t.usedAt ? "Partly used" : "Unused"}</span>
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
            const uses = optionalNumber(maxUses, "maxUses", "The number of registrations");
            setCreated(undefined);
            setDeleted(undefined);
            const answer = await api.post<{ id: string; token: string; expiresAt: string }>(
              "/admin/api/oauth/initial-access-tokens",
              {
                ...(lifetime === undefined ? {} : { expiresIn: lifetime }),
                ...(uses === undefined ? {} : { maxUses: uses }),
                ...(runAsUser ? { runAsUser } : {}),
                ...(chosenScopes.length > 0 ? { scopes: chosenScopes } : {}),
                ...(grantTypes.length > 0 ? { grantTypes } : {}),
              },
            );
            setCreated(answer);
            setExpiresIn("");
            setMaxUses("");
            setRunAsUser("");
            setChosenScopes([]);
            setGrantTypes([]);
            await tokens.reload();
          }}
        >
          <NumberField
            label="Lifetime (seconds)"
            name="expiresIn"
            value={expiresIn}
            onInput={setExpiresIn}
            hint={`From 60 to 31536000; empty: the global setting${settings.data ? ` (${seconds(settings.data.initialAccessTokenLifetime)})` : ""}.`}
          />
          <NumberField
            label="Registrations allowed"
            name="maxUses"
            value={maxUses}
            onInput={setMaxUses}
            hint="From 1 to 10000; empty: one client."
          />
          <SelectField
            label="Run as user"
            name="runAsUser"
            value={runAsUser}
            options={[
              { value: "", label: "(none)" },
              ...(users.data ?? []).map((u) => ({ value: u.username })),
            ]}
            onChange={setRunAsUser}
            hint="The user the registered clients' client credentials tokens run as; needed for client credentials."
          />
          <CheckboxGroup
            legend="Scopes a registration may ask for"
            name="scopes"
            options={(scopes.data ?? []).map((s) => ({ value: s.name }))}
            selected={chosenScopes}
            onChange={setChosenScopes}
            hint={
              scopes.problem
                ? `The scopes cannot be listed: ${scopes.problem.message}`
                : "None ticked: any scope. A registration that asks for no scope gets these."
            }
          />
          <CheckboxGroup
            legend="Grants a registration may ask for"
            name="grantTypes"
            options={GRANTS.map((g) => ({ value: g.value, label: g.label }))}
            selected={grantTypes}
            onChange={setGrantTypes}
            hint="None ticked: authorization code and refresh token, and client credentials with a run-as user."
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
                  <th scope="col">Registrations left</th>
                  <th scope="col">Policy</th>
                  <th scope="col">Last used by client</th>
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
                    <td>
                      {t.usesLeft ?? (t.usedAt ? 0 : 1)} of {t.maxUses ?? 1}
                    </td>
                    <td>
                      Run as: {t.runAsUser ? <code>{t.runAsUser}</code> : <span class="muted">none</span>}
                      <br />
                      Scopes: {t.scopes ? t.scopes.join(", ") || "none" : "any"}
                      <br />
                      Grants:{" "}
                      {(t.grantTypes ?? ["authorization_code", "refresh_token"]).map(grantLabel).join(", ")}
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
