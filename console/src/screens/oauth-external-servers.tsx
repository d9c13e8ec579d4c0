import { useState } from "preact/hooks";
import { api, seg } from "../api.js";
import { Link } from "../router.js";
import type { ScreenProps } from "../routes.js";
import { Flash, navigateWith, segments } from "../screen-kit.js";
import {
  NumberField,
  OAuthPage,
  optionalNumber,
  PATHS,
  type ExternalServer,
  type OAuthSettings,
  type User,
} from "../oauth-common.js";
import { ActionButton, Form, Loading, SelectField, TextArea, TextField, useResource, when } from "../ui.js";

/**
 * Security > OAuth > External Authorization Servers: the third parties (Okta and its peers) whose tokens
 * Conduit accepts, through RFC 7662 introspection or, with an issuer and a JWKS, as JWTs checked locally.
 * The client secret is write-only: the API never returns it, so the edit form only says that one is set.
 */
export default function ExternalServers(props: ScreenProps) {
  const [first] = segments(props.rest);
  if (first === "new") return <ServerForm />;
  if (first !== undefined) return <EditServer name={first} />;
  return <ServerList />;
}

function ServerList() {
  const servers = useResource<ExternalServer[]>("/admin/api/oauth/external-servers");
  const settings = useResource<OAuthSettings>("/admin/api/oauth/settings");
  return (
    <OAuthPage
      title="External Authorization Servers"
      actions={
        <Link href={`${PATHS.externalServers}/new`} class="button">
          Add External Authorization Server
        </Link>
      }
    >
      <Flash />
      <p class="muted">
        To use one for bearer tokens on /invoke, select it as the Authorization Server in Edit Global
        Settings. Its scope names must equal this server's scope names.
      </p>
      <Loading problem={servers.problem} loading={servers.loading}>
        {servers.data && servers.data.length === 0 ? <p>No external authorization servers yet.</p> : null}
        {servers.data && servers.data.length > 0 ? (
          <div class="table-wrap">
            <table>
              <caption>External authorization servers</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Introspection endpoint</th>
                  <th scope="col">Client ID</th>
                  <th scope="col">User</th>
                  <th scope="col">Issuer (JWTs)</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {servers.data.map((server) => (
                  <tr key={server.name}>
                    <th scope="row">
                      <Link
                        href={`${PATHS.externalServers}/${seg(server.name)}`}
                        aria-label={`Edit external server ${server.name}`}
                      >
                        {server.name}
                      </Link>
                      {settings.data?.authorizationServer === server.name ? (
                        <>
                          {" "}
                          <span class="badge ok">selected</span>
                        </>
                      ) : null}
                    </th>
                    <td>
                      <code class="url">{server.introspectionEndpoint}</code>
                    </td>
                    <td>
                      <code>{server.clientId}</code>
                    </td>
                    <td>{server.user ?? (server.subjectClaim ? `claim ${server.subjectClaim}` : "—")}</td>
                    <td>
                      {server.issuer ? (
                        <code class="url">{server.issuer}</code>
                      ) : (
                        <span class="muted">—</span>
                      )}
                    </td>
                    <td>
                      <ActionButton
                        label="Delete"
                        busyLabel="Deleting…"
                        class="danger"
                        aria-label={`Delete external server ${server.name}`}
                        confirm={`Delete the external authorization server ${server.name}?`}
                        onClick={async () => {
                          await api.del(`/admin/api/oauth/external-servers/${seg(server.name)}`);
                          await servers.reload();
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

function EditServer(props: { name: string }) {
  const server = useResource<ExternalServer>(`/admin/api/oauth/external-servers/${seg(props.name)}`);
  return (
    <Loading problem={server.problem} loading={server.loading}>
      {server.data ? <ServerForm server={server.data} /> : null}
    </Loading>
  );
}

/** The text fields of the form, by the API's field names. */
type Texts = {
  name: string;
  discoveryUrl: string;
  introspectionEndpoint: string;
  clientId: string;
  clientSecret: string;
  user: string;
  subjectClaim: string;
  issuer: string;
  jwksUri: string;
  audience: string;
  cacheTtlSeconds: string;
  inactiveCacheTtlSeconds: string;
  staleIfErrorSeconds: string;
  timeoutMs: string;
  breakerThreshold: string;
  breakerOpenSeconds: string;
  clientCertificate: string;
  clientKey: string;
  caCertificates: string;
};
const NUMBERS = [
  "cacheTtlSeconds",
  "inactiveCacheTtlSeconds",
  "staleIfErrorSeconds",
  "timeoutMs",
  "breakerThreshold",
  "breakerOpenSeconds",
] as const;
/** Fields an empty input clears (sent as null) when editing. */
const CLEARABLE = [
  "user",
  "subjectClaim",
  "issuer",
  "jwksUri",
  "audience",
  "discoveryUrl",
  "clientCertificate",
  "caCertificates",
] as const;
/** Write-only fields: sent only when something is typed; an empty input keeps the stored value. */
const WRITE_ONLY = ["clientSecret", "clientKey"] as const;

function textsOf(server: ExternalServer | undefined): Texts {
  return {
    name: server?.name ?? "",
    discoveryUrl: server?.discoveryUrl ?? "",
    introspectionEndpoint: server?.introspectionEndpoint ?? "",
    clientId: server?.clientId ?? "",
    clientSecret: "",
    user: server?.user ?? "",
    subjectClaim: server?.subjectClaim ?? "",
    issuer: server?.issuer ?? "",
    jwksUri: server?.jwksUri ?? "",
    audience: server?.audience ?? "",
    cacheTtlSeconds: String(server?.cacheTtlSeconds ?? 60),
    inactiveCacheTtlSeconds: String(server?.inactiveCacheTtlSeconds ?? 5),
    staleIfErrorSeconds: String(server?.staleIfErrorSeconds ?? 0),
    timeoutMs: String(server?.timeoutMs ?? 2000),
    breakerThreshold: String(server?.breakerThreshold ?? 3),
    breakerOpenSeconds: String(server?.breakerOpenSeconds ?? 5),
    clientCertificate: server?.clientCertificate ?? "",
    clientKey: "",
    caCertificates: server?.caCertificates ?? "",
  };
}

const NUMBER_LABELS: Record<(typeof NUMBERS)[number], string> = {
  cacheTtlSeconds: "Cache answers for (seconds)",
  inactiveCacheTtlSeconds: "Cache inactive answers for (seconds)",
  staleIfErrorSeconds: "Serve stale answers when it is down (seconds)",
  timeoutMs: "Timeout (milliseconds)",
  breakerThreshold: "Timeouts in a row that open the circuit breaker",
  breakerOpenSeconds: "Circuit breaker open for (seconds)",
};

function ServerForm(props: { server?: ExternalServer }) {
  const existing = props.server;
  const users = useResource<User[]>("/admin/api/users");
  const [texts, setTexts] = useState<Texts>(() => textsOf(existing));
  const set = (name: keyof Texts) => (value: string) => setTexts((t) => ({ ...t, [name]: value }));
  const original = textsOf(existing);

  const userOptions = [
    { value: "", label: "(none: the subject claim names the user)" },
    ...(users.data ?? []).map((u) => ({ value: u.username })),
    ...(texts.user && !(users.data ?? []).some((u) => u.username === texts.user)
      ? [{ value: texts.user }]
      : []),
  ];

  return (
    <OAuthPage
      title={
        existing ? `Edit External Authorization Server ${existing.name}` : "Add External Authorization Server"
      }
    >
      <Form
        aria-label={existing ? `Edit external server ${existing.name}` : "Add external authorization server"}
        submitLabel={existing ? "Save Changes" : "Save External Server"}
        busyLabel="Saving…"
        extraButtons={
          <Link href={PATHS.externalServers} class="button">
            Cancel
          </Link>
        }
        onSubmit={async () => {
          const body: Record<string, unknown> = {};
          for (const n of NUMBERS) {
            const value = optionalNumber(texts[n], n, NUMBER_LABELS[n].replace(/ \(.*$/, ""));
            if (value !== undefined && (!existing || texts[n] !== original[n])) body[n] = value;
          }
          if (existing) {
            // Only what changed: an unchanged discovery URL is not fetched again, an empty secret is kept.
            for (const [key, value] of Object.entries(texts) as [keyof Texts, string][]) {
              if (key === "name" || (NUMBERS as readonly string[]).includes(key)) continue;
              if ((WRITE_ONLY as readonly string[]).includes(key)) {
                if (value.trim() !== "") body[key] = key === "clientKey" ? value.trim() : value;
                continue;
              }
              if (value.trim() === original[key].trim()) continue;
              body[key] =
                value.trim() === "" && (CLEARABLE as readonly string[]).includes(key) ? null : value.trim();
            }
            if (Object.keys(body).length > 0)
              await api.put(`/admin/api/oauth/external-servers/${seg(existing.name)}`, body);
            navigateWith(
              PATHS.externalServers,
              Object.keys(body).length > 0
                ? `External authorization server ${existing.name} saved${body.clientSecret !== undefined ? " (with a new client secret)" : ""}.`
                : `Nothing changed on ${existing.name}.`,
            );
          } else {
            for (const [key, value] of Object.entries(texts) as [keyof Texts, string][]) {
              if ((NUMBERS as readonly string[]).includes(key)) continue;
              const v = key === "clientSecret" ? value : value.trim();
              if (v !== "") body[key] = v;
            }
            const created = await api.post<ExternalServer>("/admin/api/oauth/external-servers", body);
            navigateWith(
              PATHS.externalServers,
              `External authorization server ${created.name} added. Select it in Edit Global Settings to use it.`,
            );
          }
        }}
      >
        <TextField
          label="Name"
          name="name"
          value={texts.name}
          onInput={set("name")}
          readOnly={Boolean(existing)}
          hint={
            existing
              ? "A name cannot change."
              : "As it will appear in the Authorization Server drop-down (e.g. Okta)."
          }
        />
        <fieldset>
          <legend>Introspection (RFC 7662)</legend>
          <TextField
            label="Introspection Endpoint"
            name="introspectionEndpoint"
            type="url"
            value={texts.introspectionEndpoint}
            onInput={set("introspectionEndpoint")}
            hint="Its RFC 7662 endpoint, e.g. https://dev-1.okta.com/oauth2/default/v1/introspect (or leave it empty and give a Discovery URL below)."
          />
          <TextField
            label="Client Id"
            name="clientId"
            value={texts.clientId}
            onInput={set("clientId")}
            hint="The client Conduit calls the introspection endpoint as (HTTP Basic)."
          />
          <TextField
            label="Client Secret"
            name="clientSecret"
            type="password"
            value={texts.clientSecret}
            onInput={set("clientSecret")}
            autoComplete="new-password"
            placeholder={existing ? "•••••••• (set; type to replace)" : ""}
            hint={
              existing
                ? "A secret is set (it was required when the server was added). It is never shown; leave this empty to keep it, or type a new one to replace it."
                : "Encrypted at rest and never shown again."
            }
          />
          <SelectField
            label="User"
            name="user"
            value={texts.user}
            options={userOptions}
            onChange={set("user")}
            hint="The Conduit user that requests with an active token of this server run as."
          />
          <TextField
            label="Subject claim"
            name="subjectClaim"
            value={texts.subjectClaim}
            onInput={set("subjectClaim")}
            hint="Optional: a claim of the token (e.g. sub) that names the Conduit user to run as, instead of the one user above."
          />
        </fieldset>
        <fieldset>
          <legend>Discovery and JWT access tokens (optional)</legend>
          <TextField
            label="Discovery URL"
            name="discoveryUrl"
            type="url"
            value={texts.discoveryUrl}
            onInput={set("discoveryUrl")}
            hint="The RFC 8414 or OpenID discovery document (…/.well-known/openid-configuration): it fills in the introspection endpoint, issuer and JWKS URI left empty."
          />
          <TextField
            label="Issuer"
            name="issuer"
            value={texts.issuer}
            onInput={set("issuer")}
            hint="The iss of its JWT access tokens; with a JWKS URI, Conduit verifies them itself, with no introspection call."
          />
          <TextField
            label="JWKS URI"
            name="jwksUri"
            type="url"
            value={texts.jwksUri}
            onInput={set("jwksUri")}
          />
          <TextField
            label="Audience"
            name="audience"
            value={texts.audience}
            onInput={set("audience")}
            hint="Optional: the aud a JWT must carry."
          />
        </fieldset>
        <fieldset>
          <legend>Two-way TLS (optional)</legend>
          <TextArea
            label="Client certificate (PEM)"
            name="clientCertificate"
            value={texts.clientCertificate}
            onInput={set("clientCertificate")}
            rows={4}
            hint="The certificate (chain, leaf first) Conduit presents to this server. Empty it to remove the certificate and its key."
          />
          <TextArea
            label="Client key (PEM)"
            name="clientKey"
            value={texts.clientKey}
            onInput={set("clientKey")}
            rows={4}
            hint={
              existing?.clientKeySet
                ? "A key is set. It is never shown; leave this empty to keep it, or paste a new one to replace it."
                : "The private key of the certificate; encrypted at rest and never shown again."
            }
          />
          <TextArea
            label="Trusted CA certificates (PEM)"
            name="caCertificates"
            value={texts.caCertificates}
            onInput={set("caCertificates")}
            rows={4}
            hint="Empty: the system's root certificates."
          />
        </fieldset>
        <fieldset>
          <legend>Caching and timeouts</legend>
          {NUMBERS.map((n) => (
            <NumberField key={n} label={NUMBER_LABELS[n]} name={n} value={texts[n]} onInput={set(n)} />
          ))}
        </fieldset>
        {existing ? (
          <p class="hint">
            Added {when(existing.createdAt)}, last changed {when(existing.updatedAt)}.
          </p>
        ) : null}
      </Form>
    </OAuthPage>
  );
}
