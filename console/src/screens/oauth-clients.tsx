import { useState } from "preact/hooks";
import { api, seg } from "../api.js";
import { Link } from "../router.js";
import type { ScreenProps } from "../routes.js";
import { Flash, navigateWith, segments } from "../screen-kit.js";
import {
  GRANTS,
  linesOf,
  NumberField,
  OAuthPage,
  PATHS,
  seconds,
  wholeNumber,
  YesNo,
  type Client,
  type OAuthSettings,
  type Scope,
  type User,
} from "../oauth-common.js";
import {
  ActionButton,
  CheckboxField,
  CheckboxGroup,
  Form,
  Loading,
  Notice,
  SecretOnce,
  SelectField,
  TextArea,
  TextField,
  useResource,
  when,
} from "../ui.js";

/** Security > OAuth > Client Registration: list, add, edit, enable/disable, new secret, delete. */
export default function OAuthClients(props: ScreenProps) {
  const [first] = segments(props.rest);
  if (first === "new") return <NewClient />;
  if (first !== undefined) return <ClientPage clientId={first} />;
  return <ClientList />;
}

const label = (c: Pick<Client, "clientName" | "version">) => `${c.clientName} ${c.version}`;
const grantLabel = (g: string) => GRANTS.find((x) => x.value === g)?.label ?? g;

function ClientList() {
  const clients = useResource<Client[]>("/admin/api/oauth/clients");
  return (
    <OAuthPage
      title="Client Registration"
      actions={
        <Link href={`${PATHS.clients}/new`} class="button">
          Add Client
        </Link>
      }
    >
      <Flash />
      <Loading problem={clients.problem} loading={clients.loading}>
        {clients.data && clients.data.length === 0 ? <p>No clients registered yet.</p> : null}
        {clients.data && clients.data.length > 0 ? (
          <div class="table-wrap">
            <table>
              <caption>Registered clients</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Version</th>
                  <th scope="col">Type</th>
                  <th scope="col">Enabled</th>
                  <th scope="col">Allowed grants</th>
                  <th scope="col">Client ID</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {clients.data.map((client) => (
                  <tr key={client.clientId}>
                    <th scope="row">
                      <Link
                        href={`${PATHS.clients}/${seg(client.clientId)}`}
                        aria-label={`Edit client ${label(client)}`}
                      >
                        {client.clientName}
                      </Link>
                    </th>
                    <td>{client.version}</td>
                    <td>{client.type}</td>
                    <td>
                      <YesNo value={client.enabled} yes="Enabled" no="Disabled" />
                    </td>
                    <td>{client.grantTypes.map(grantLabel).join(", ") || <span class="muted">none</span>}</td>
                    <td>
                      <code>{client.clientId}</code>
                    </td>
                    <td>
                      <div class="row-actions">
                        <ActionButton
                          label={client.enabled ? "Disable" : "Enable"}
                          class="secondary"
                          aria-label={`${client.enabled ? "Disable" : "Enable"} client ${label(client)}`}
                          onClick={async () => {
                            await api.put(`/admin/api/oauth/clients/${seg(client.clientId)}`, {
                              enabled: !client.enabled,
                            });
                            await clients.reload();
                          }}
                        />
                        <ActionButton
                          label="Delete"
                          busyLabel="Deleting…"
                          class="danger"
                          aria-label={`Delete client ${label(client)}`}
                          confirm={`Delete the client ${label(client)}? Its tokens stop working at once.`}
                          onClick={async () => {
                            await api.del(`/admin/api/oauth/clients/${seg(client.clientId)}`);
                            await clients.reload();
                          }}
                        />
                      </div>
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

function NewClient() {
  const [created, setCreated] = useState<(Client & { clientSecret?: string }) | undefined>(undefined);
  if (created)
    return (
      <OAuthPage title={`Client ${label(created)} registered`}>
        <Notice>
          The client {label(created)} is registered. Its client ID is <code>{created.clientId}</code>.
        </Notice>
        <dl class="facts stack">
          <dt>Client ID</dt>
          <dd>
            <code>{created.clientId}</code>
          </dd>
        </dl>
        {created.clientSecret ? (
          <SecretOnce label="Client secret" value={created.clientSecret} />
        ) : (
          <p>A public client has no secret: it proves itself with PKCE.</p>
        )}
        <p class="row-actions">
          <Link href={`${PATHS.clients}/${seg(created.clientId)}`}>Go to the client {label(created)}</Link>
          <Link href={PATHS.clients}>Back to Client Registration</Link>
        </p>
      </OAuthPage>
    );
  return (
    <OAuthPage title="Add Client">
      <ClientForm onSaved={(client) => setCreated(client)} />
    </OAuthPage>
  );
}

function ClientPage(props: { clientId: string }) {
  const path = `/admin/api/oauth/clients/${seg(props.clientId)}`;
  const client = useResource<Client>(path);
  const [secret, setSecret] = useState<{ value: string; previousUntil: string | null } | undefined>(
    undefined,
  );
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const c = client.data;
  return (
    <OAuthPage
      title={c ? `Edit Client ${label(c)}` : "Edit Client"}
      actions={
        c ? (
          <>
            <ActionButton
              label={c.enabled ? "Disable" : "Enable"}
              class="secondary"
              aria-label={`${c.enabled ? "Disable" : "Enable"} client ${label(c)}`}
              onClick={async () => {
                await api.put(path, { enabled: !c.enabled });
                setSaved(`Client ${label(c)} ${c.enabled ? "disabled" : "enabled"}.`);
                await client.reload();
              }}
            />
            {c.type === "confidential" ? (
              <ActionButton
                label="Generate New Secret"
                busyLabel="Generating…"
                class="secondary"
                confirm={`Generate a new secret for ${label(c)}? The current one keeps working only for the overlap set in the global settings.`}
                onClick={async () => {
                  const answer = await api.post<{
                    clientSecret: string;
                    previousSecretExpiresAt: string | null;
                  }>(`${path}/secret`, {});
                  setSaved(undefined);
                  setSecret({ value: answer.clientSecret, previousUntil: answer.previousSecretExpiresAt });
                  await client.reload();
                }}
              />
            ) : null}
            <ActionButton
              label="Delete"
              busyLabel="Deleting…"
              class="danger"
              aria-label={`Delete client ${label(c)}`}
              confirm={`Delete the client ${label(c)}? Its tokens stop working at once.`}
              onClick={async () => {
                await api.del(path);
                navigateWith(PATHS.clients, `Client ${label(c)} deleted.`);
              }}
            />
          </>
        ) : null
      }
    >
      <Loading problem={client.problem} loading={client.loading}>
        {c ? (
          <>
            {secret ? (
              <>
                <SecretOnce label="New client secret" value={secret.value} />
                <p>
                  {secret.previousUntil
                    ? `The previous secret keeps working until ${when(secret.previousUntil)}.`
                    : "The previous secret no longer works."}
                </p>
              </>
            ) : null}
            {saved ? <Notice>{saved}</Notice> : null}
            <dl class="facts stack">
              <dt>Client ID</dt>
              <dd>
                <code>{c.clientId}</code>
              </dd>
              <dt>Type</dt>
              <dd>
                {c.type === "confidential" ? "confidential (has a secret)" : "public (no secret; PKCE)"}
              </dd>
              <dt>Client secret</dt>
              <dd>
                {c.type === "confidential"
                  ? "Set. Conduit keeps only a digest: it cannot be shown; Generate New Secret makes a new one."
                  : "None"}
              </dd>
              {c.previousSecretExpiresAt ? (
                <>
                  <dt>Previous secret</dt>
                  <dd>works until {when(c.previousSecretExpiresAt)}</dd>
                </>
              ) : null}
              <dt>Registered</dt>
              <dd>{c.registered ? "by the client itself (RFC 7591)" : "by an administrator"}</dd>
              <dt>Created</dt>
              <dd>{when(c.createdAt)}</dd>
              <dt>Updated</dt>
              <dd>{when(c.updatedAt)}</dd>
            </dl>
            <ClientForm
              key={c.updatedAt}
              client={c}
              onSaved={async (updated) => {
                setSaved(`Client ${label(updated)} saved.`);
                await client.reload();
              }}
            />
          </>
        ) : null}
      </Loading>
    </OAuthPage>
  );
}

type LifetimeMode = "global" | "never" | "seconds";
type RefreshMode = "unlimited" | "none" | "limit";

function ClientForm(props: {
  client?: Client;
  onSaved: (client: Client & { clientSecret?: string }) => void | Promise<void>;
}) {
  const existing = props.client;
  const scopes = useResource<Scope[]>("/admin/api/oauth/scopes");
  const users = useResource<User[]>("/admin/api/users");
  const settings = useResource<OAuthSettings>("/admin/api/oauth/settings");
  const [clientName, setClientName] = useState(existing?.clientName ?? "");
  const [version, setVersion] = useState(existing?.version ?? "1.0");
  const [type, setType] = useState<"confidential" | "public">(existing?.type ?? "confidential");
  const [description, setDescription] = useState(existing?.description ?? "");
  const [redirectUris, setRedirectUris] = useState((existing?.redirectUris ?? []).join("\n"));
  const [grantTypes, setGrantTypes] = useState<string[]>(existing?.grantTypes ?? ["authorization_code"]);
  const [chosenScopes, setChosenScopes] = useState<string[]>(existing?.scopes ?? []);
  const lifetime = existing?.accessTokenLifetime ?? null;
  const [lifetimeMode, setLifetimeMode] = useState<LifetimeMode>(
    lifetime === null ? "global" : lifetime === 0 ? "never" : "seconds",
  );
  const [lifetimeSeconds, setLifetimeSeconds] = useState(lifetime ? String(lifetime) : "3600");
  const limit = existing?.refreshLimit ?? null;
  const [refreshMode, setRefreshMode] = useState<RefreshMode>(
    limit === null ? "unlimited" : limit === 0 ? "none" : "limit",
  );
  const [refreshLimit, setRefreshLimit] = useState(limit ? String(limit) : "10");
  const [runAsUser, setRunAsUser] = useState(existing?.runAsUser ?? "");
  const [enabled, setEnabled] = useState(existing?.enabled ?? true);

  const scopeOptions = [
    ...(scopes.data ?? []).map((s) => ({
      value: s.name,
      label: s.description ? `${s.name} (${s.description})` : s.name,
    })),
    // A scope the client holds that is no longer listed stays visible so it can be unticked.
    ...chosenScopes.filter((n) => !(scopes.data ?? []).some((s) => s.name === n)).map((n) => ({ value: n })),
  ];
  const userOptions = [
    { value: "", label: "(none)" },
    ...(users.data ?? []).map((u) => ({ value: u.username })),
    ...(runAsUser && !(users.data ?? []).some((u) => u.username === runAsUser) ? [{ value: runAsUser }] : []),
  ];
  const globalLifetime = settings.data ? ` (now ${seconds(settings.data.accessTokenLifetime)})` : "";

  return (
    <Form
      aria-label={existing ? `Edit client ${label(existing)}` : "Add client"}
      submitLabel={existing ? "Save Changes" : "Register Client"}
      busyLabel="Saving…"
      extraButtons={
        <Link href={PATHS.clients} class="button">
          Cancel
        </Link>
      }
      onSubmit={async () => {
        const body: Record<string, unknown> = {
          clientName,
          version,
          description,
          redirectUris: linesOf(redirectUris),
          grantTypes,
          scopes: chosenScopes,
          accessTokenLifetime:
            lifetimeMode === "global"
              ? null
              : lifetimeMode === "never"
                ? 0
                : wholeNumber(lifetimeSeconds, "accessTokenLifetime", "The token lifetime"),
          refreshLimit:
            refreshMode === "unlimited"
              ? null
              : refreshMode === "none"
                ? 0
                : wholeNumber(refreshLimit, "refreshLimit", "The refresh limit"),
          runAsUser: runAsUser === "" ? null : runAsUser,
          enabled,
        };
        if (existing) {
          const updated = await api.put<Client>(`/admin/api/oauth/clients/${seg(existing.clientId)}`, body);
          await props.onSaved(updated);
        } else {
          const created = await api.post<Client & { clientSecret?: string }>("/admin/api/oauth/clients", {
            ...body,
            type,
          });
          await props.onSaved(created);
        }
      }}
    >
      <TextField label="Name" name="clientName" value={clientName} onInput={setClientName} />
      <TextField
        label="Version"
        name="version"
        value={version}
        onInput={setVersion}
        hint="Name and version together are unique."
      />
      {existing ? null : (
        <SelectField
          label="Type"
          name="type"
          value={type}
          options={[
            { value: "confidential", label: "Confidential (a secret is generated)" },
            { value: "public", label: "Public (no secret; PKCE)" },
          ]}
          onChange={(v) => setType(v as "confidential" | "public")}
        />
      )}
      <TextArea
        label="Description"
        name="description"
        value={description}
        onInput={setDescription}
        rows={2}
        spellcheck
      />
      <TextArea
        label="Redirect URIs"
        name="redirectUris"
        value={redirectUris}
        onInput={setRedirectUris}
        rows={3}
        hint="One per line; at least one for the authorization code grant."
      />
      <CheckboxGroup
        legend="Allowed Grants"
        name="grantTypes"
        options={GRANTS.map((g) => ({ value: g.value, label: g.label }))}
        selected={grantTypes}
        onChange={setGrantTypes}
        hint="Client credentials is for confidential clients only."
      />
      <CheckboxGroup
        legend="Scopes"
        name="scopes"
        options={scopeOptions}
        selected={chosenScopes}
        onChange={setChosenScopes}
        hint={
          scopes.problem
            ? `The scopes cannot be listed: ${scopes.problem.message}`
            : "The scopes this client may ask for (Scope Management)."
        }
      />
      <SelectField
        label="Access token lifetime"
        name="accessTokenLifetimeMode"
        value={lifetimeMode}
        options={[
          { value: "global", label: `The global setting${globalLifetime}` },
          { value: "never", label: "Never expires" },
          { value: "seconds", label: "A number of seconds" },
        ]}
        onChange={(v) => setLifetimeMode(v as LifetimeMode)}
      />
      {lifetimeMode === "seconds" ? (
        <NumberField
          label="Access token lifetime in seconds"
          name="accessTokenLifetime"
          value={lifetimeSeconds}
          onInput={setLifetimeSeconds}
        />
      ) : null}
      <SelectField
        label="Refresh count"
        name="refreshLimitMode"
        value={refreshMode}
        options={[
          { value: "unlimited", label: "Unlimited" },
          { value: "none", label: "No refresh tokens" },
          { value: "limit", label: "A limit" },
        ]}
        onChange={(v) => setRefreshMode(v as RefreshMode)}
        hint="How many times the client may refresh a grant's access token."
      />
      {refreshMode === "limit" ? (
        <NumberField
          label="Refresh limit"
          name="refreshLimit"
          value={refreshLimit}
          onInput={setRefreshLimit}
        />
      ) : null}
      <SelectField
        label="Run as user"
        name="runAsUser"
        value={runAsUser}
        options={userOptions}
        onChange={setRunAsUser}
        hint="The user services run as with a client credentials token (with other grants, the user who approved)."
      />
      <CheckboxField
        label="Enabled"
        name="enabled"
        checked={enabled}
        onChange={setEnabled}
        hint="A disabled client is refused everywhere, and its tokens with it."
      />
    </Form>
  );
}
