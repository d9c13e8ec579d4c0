import { useState } from "preact/hooks";
import { api } from "../api.js";
import type { ScreenProps } from "../routes.js";
import {
  NumberField,
  OAuthPage,
  wholeNumber,
  type ExternalServer,
  type OAuthSettings,
} from "../oauth-common.js";
import {
  CheckboxField,
  Form,
  Loading,
  Notice,
  SelectField,
  TextArea,
  TextField,
  useResource,
} from "../ui.js";

type Numbers = Pick<
  OAuthSettings,
  | "authorizationCodeLifetime"
  | "accessTokenLifetime"
  | "refreshTokenLifetime"
  | "refreshGraceSeconds"
  | "secretOverlapSeconds"
  | "initialAccessTokenLifetime"
  | "sweepIntervalSeconds"
>;
type NumberName = keyof Numbers;
type Flags = Pick<OAuthSettings, "requireHttps" | "trustForwardedProto" | "requirePkce">;
type Texts = Pick<OAuthSettings, "approvalTitle" | "approvalHeading" | "approvalFooter">;

const NUMBERS: { name: NumberName; label: string; hint: string }[] = [
  {
    name: "authorizationCodeLifetime",
    label: "Authorization code lifetime (seconds)",
    hint: "From 1 to 86400; Integration Server's default is 600.",
  },
  {
    name: "accessTokenLifetime",
    label: "Access token lifetime (seconds)",
    hint: "0: access tokens never expire. A client may set its own.",
  },
  { name: "refreshTokenLifetime", label: "Refresh token lifetime (seconds)", hint: "0: never expire." },
  {
    name: "refreshGraceSeconds",
    label: "Refresh grace period (seconds)",
    hint: "After a refresh token is rotated, a retry with it still succeeds for this long (0 to 600).",
  },
  {
    name: "secretOverlapSeconds",
    label: "Previous client secret overlap (seconds)",
    hint: "After Generate New Secret, the previous secret keeps working for this long.",
  },
  {
    name: "initialAccessTokenLifetime",
    label: "Initial access token lifetime (seconds)",
    hint: "For dynamic client registration (RFC 7591); at least 60.",
  },
  {
    name: "sweepIntervalSeconds",
    label: "Expired token sweep interval (seconds)",
    hint: "How often expired tokens and codes are removed in the background.",
  },
];

/** Security > OAuth > Edit Global Settings: every setting of /admin/api/oauth/settings. */
export default function OAuthSettingsScreen(_props: ScreenProps) {
  const settings = useResource<OAuthSettings>("/admin/api/oauth/settings");
  const servers = useResource<ExternalServer[]>("/admin/api/oauth/external-servers");
  const [saved, setSaved] = useState<string | undefined>(undefined);
  return (
    <OAuthPage title="Edit Global Settings">
      <Loading problem={settings.problem ?? servers.problem} loading={settings.loading || servers.loading}>
        {settings.data && servers.data ? (
          <SettingsForm
            key={JSON.stringify(settings.data)}
            settings={settings.data}
            servers={servers.data}
            onSaved={async (message) => {
              setSaved(undefined);
              if (message !== undefined) await settings.reload();
              setSaved(message ?? "Nothing to save: no setting was changed.");
            }}
          />
        ) : null}
      </Loading>
      {saved ? <Notice>{saved}</Notice> : null}
    </OAuthPage>
  );
}

function SettingsForm(props: {
  settings: OAuthSettings;
  servers: ExternalServer[];
  /** After a save (with what happened), or with undefined when nothing changed. */
  onSaved: (message: string | undefined) => Promise<void>;
}) {
  const s = props.settings;
  const [authorizationServer, setAuthorizationServer] = useState(s.authorizationServer);
  const [flags, setFlags] = useState<Flags>({
    requireHttps: s.requireHttps,
    trustForwardedProto: s.trustForwardedProto,
    requirePkce: s.requirePkce,
  });
  const [numbers, setNumbers] = useState<Record<NumberName, string>>(
    () => Object.fromEntries(NUMBERS.map((n) => [n.name, String(s[n.name])])) as Record<NumberName, string>,
  );
  const [texts, setTexts] = useState<Texts>({
    approvalTitle: s.approvalTitle,
    approvalHeading: s.approvalHeading,
    approvalFooter: s.approvalFooter,
  });

  const options = [
    { value: "local", label: "local (this server)" },
    ...props.servers.map((server) => ({ value: server.name, label: server.name })),
  ];
  if (!options.some((o) => o.value === s.authorizationServer))
    options.push({ value: s.authorizationServer, label: `${s.authorizationServer} (missing)` });

  return (
    <Form
      aria-label="Global settings"
      submitLabel="Save Changes"
      busyLabel="Saving…"
      onSubmit={async () => {
        const changes: Record<string, unknown> = {};
        if (authorizationServer !== s.authorizationServer) changes.authorizationServer = authorizationServer;
        for (const [name, value] of Object.entries(flags))
          if (value !== s[name as keyof Flags]) changes[name] = value;
        for (const n of NUMBERS) {
          const value = wholeNumber(numbers[n.name], n.name, n.label.replace(/ \(.*$/, ""));
          if (value !== s[n.name]) changes[n.name] = value;
        }
        for (const [name, value] of Object.entries(texts))
          if (value !== s[name as keyof Texts]) changes[name] = value;
        if (Object.keys(changes).length === 0) return props.onSaved(undefined);
        await api.put("/admin/api/oauth/settings", changes);
        const names = Object.keys(changes).length;
        await props.onSaved(`Global settings saved (${names} setting${names === 1 ? "" : "s"} changed).`);
      }}
    >
      <fieldset>
        <legend>Resource Server Settings</legend>
        <SelectField
          label="Authorization Server"
          name="authorizationServer"
          value={authorizationServer}
          options={options}
          onChange={setAuthorizationServer}
          hint="Who checks the bearer tokens sent to /invoke: this server, or an external authorization server (Security > OAuth > External Authorization Servers)."
        />
      </fieldset>
      <fieldset>
        <legend>Authorization Server Settings</legend>
        <CheckboxField
          label="Require HTTPS"
          name="requireHttps"
          checked={flags.requireHttps}
          onChange={(v) => setFlags({ ...flags, requireHttps: v })}
          hint="OAuth requests over plain HTTP are refused (loopback excepted)."
        />
        <CheckboxField
          label="Trust X-Forwarded-Proto"
          name="trustForwardedProto"
          checked={flags.trustForwardedProto}
          onChange={(v) => setFlags({ ...flags, trustForwardedProto: v })}
          hint="Only behind a reverse proxy that terminates TLS and sets this header."
        />
        <CheckboxField
          label="Require PKCE"
          name="requirePkce"
          checked={flags.requirePkce}
          onChange={(v) => setFlags({ ...flags, requirePkce: v })}
          hint="For every client; public clients need PKCE regardless."
        />
        {NUMBERS.map((n) => (
          <NumberField
            key={n.name}
            label={n.label}
            name={n.name}
            value={numbers[n.name]}
            onInput={(v) => setNumbers({ ...numbers, [n.name]: v })}
            hint={n.hint}
          />
        ))}
      </fieldset>
      <fieldset>
        <legend>Approval Page</legend>
        <TextField
          label="Title"
          name="approvalTitle"
          value={texts.approvalTitle}
          onInput={(v) => setTexts({ ...texts, approvalTitle: v })}
        />
        <TextField
          label="Heading"
          name="approvalHeading"
          value={texts.approvalHeading}
          onInput={(v) => setTexts({ ...texts, approvalHeading: v })}
        />
        <TextArea
          label="Footer"
          name="approvalFooter"
          value={texts.approvalFooter}
          rows={2}
          spellcheck
          onInput={(v) => setTexts({ ...texts, approvalFooter: v })}
        />
      </fieldset>
    </Form>
  );
}
