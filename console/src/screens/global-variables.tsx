import { useState } from "preact/hooks";
import { api, seg } from "../api.js";
import type { ScreenProps } from "../routes.js";
import { Link, navigate } from "../router.js";
import { BackLink, Flash, navigateWith, segments } from "../screen-kit.js";
import { PATHS } from "../paths.js";
import {
  ActionButton,
  CheckboxField,
  Form,
  Loading,
  Page,
  TextArea,
  TextField,
  useResource,
  when,
} from "../ui.js";

/**
 * Settings > Global Variables: values flows read as %name%. A secret one is write-only, as in the API:
 * its value is never shown (the API never returns it); editing it means giving a new value.
 */

interface GlobalVariable {
  name: string;
  value?: string;
  secret: boolean;
  createdAt: string;
  updatedAt: string;
}

const BASE = PATHS.globalVariables;

export default function GlobalVariables({ rest }: ScreenProps) {
  const [name] = segments(rest);
  if (name === "new") return <VariableEditor />;
  if (name) return <VariablePage name={name} />;
  return <VariableList />;
}

function VariableList() {
  const variables = useResource<GlobalVariable[]>("/admin/api/global-variables");
  const [notice, setNotice] = useState<string | undefined>(undefined);
  return (
    <Page
      title="Global Variables"
      actions={
        <Link class="button" href={`${BASE}/new`}>
          Add global variable
        </Link>
      }
    >
      <Flash />
      {notice ? (
        <p class="notice ok" role="status">
          {notice}
        </p>
      ) : null}
      <Loading problem={variables.problem} loading={variables.loading}>
        {variables.data && variables.data.length === 0 ? <p>No global variables yet.</p> : null}
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Global variables</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Value</th>
                <th scope="col">Changed</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {(variables.data ?? []).map((v) => (
                <tr key={v.name}>
                  <th scope="row">
                    <code>{v.name}</code>
                  </th>
                  <td>
                    {v.secret ? (
                      <span class="badge">secret: value hidden</span>
                    ) : (
                      <code class="value">{v.value}</code>
                    )}
                  </td>
                  <td class="nowrap">{when(v.updatedAt)}</td>
                  <td>
                    <div class="row-actions">
                      <Link href={`${BASE}/${seg(v.name)}`} aria-label={`Edit global variable ${v.name}`}>
                        Edit
                      </Link>
                      <ActionButton
                        label="Delete"
                        class="danger"
                        aria-label={`Delete global variable ${v.name}`}
                        confirm={`Delete global variable ${v.name}? Flows that read %${v.name}% will no longer find it.`}
                        onClick={async () => {
                          await api.del(`/admin/api/global-variables/${seg(v.name)}`);
                          setNotice(`Global variable ${v.name} deleted.`);
                          await variables.reload();
                        }}
                      />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Loading>
    </Page>
  );
}

function VariablePage(props: { name: string }) {
  const variable = useResource<GlobalVariable>(`/admin/api/global-variables/${seg(props.name)}`);
  return (
    <Loading problem={variable.problem} loading={variable.loading}>
      {variable.data ? <VariableEditor variable={variable.data} /> : null}
    </Loading>
  );
}

function VariableEditor(props: { variable?: GlobalVariable }) {
  const existing = props.variable;
  const [name, setName] = useState(existing?.name ?? "");
  const [value, setValue] = useState(existing?.value ?? "");
  const [secret, setSecret] = useState(existing?.secret ?? false);
  const title = existing ? `Global variable ${existing.name}` : "Add global variable";
  return (
    <Page title={title}>
      <BackLink href={BASE}>Global Variables</BackLink>
      <div class="panel">
        {existing ? (
          <p class="muted">
            Created {when(existing.createdAt)}, changed {when(existing.updatedAt)}.
          </p>
        ) : null}
        <Form
          aria-label={title}
          submitLabel={existing ? "Save" : "Add global variable"}
          busyLabel="Saving…"
          onSubmit={async () => {
            await api.put(`/admin/api/global-variables/${seg(name)}`, { value, secret });
            setValue("");
            navigateWith(
              BASE,
              existing ? `Global variable ${name} saved.` : `Global variable ${name} added.`,
            );
          }}
          extraButtons={
            <button type="button" class="secondary" onClick={() => navigate(BASE)}>
              Cancel
            </button>
          }
        >
          {existing ? null : (
            <TextField
              label="Name"
              name="name"
              value={name}
              onInput={setName}
              required
              hint="Letters, digits, _, . and -, starting with a letter or _; flows read it as %name%."
            />
          )}
          {secret ? (
            <TextField
              label="Value"
              name="value"
              type="password"
              value={value}
              onInput={setValue}
              autoComplete="new-password"
              hint={
                existing?.secret
                  ? "A secret value is set and is never shown. Enter a new value to replace it."
                  : "Secret: stored encrypted, never shown again after saving."
              }
            />
          ) : (
            <TextArea label="Value" name="value" value={value} onInput={setValue} rows={2} />
          )}
          <div class="wide-checkbox">
            <CheckboxField
              label="Secret (write-only: the value is never shown again)"
              name="secret"
              checked={secret}
              onChange={(checked) => {
                // A value shown in clear stays off screen once it is made secret, and the other way round
                // an old secret is never filled in.
                if (checked !== secret) setValue(checked ? value : "");
                setSecret(checked);
              }}
            />
          </div>
        </Form>
      </div>
    </Page>
  );
}
