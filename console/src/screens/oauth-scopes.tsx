import { useState } from "preact/hooks";
import { ApiError, api, seg } from "../api.js";
import { Link } from "../router.js";
import type { ScreenProps } from "../routes.js";
import { Flash, navigateWith, segments } from "../screen-kit.js";
import { OAuthPage, PATHS, type Namespace, type Scope } from "../oauth-common.js";
import { ActionButton, Field, Form, Loading, TextArea, TextField, useResource } from "../ui.js";

/** Security > OAuth > Scope Management: list, Add Scope, edit, delete. */
export default function OAuthScopes(props: ScreenProps) {
  const [first] = segments(props.rest);
  if (first === "new") return <ScopeForm />;
  if (first !== undefined) return <EditScope name={first} />;
  return <ScopeList />;
}

function ScopeList() {
  const scopes = useResource<Scope[]>("/admin/api/oauth/scopes");
  return (
    <OAuthPage
      title="Scope Management"
      actions={
        <Link href={`${PATHS.scopes}/new`} class="button">
          Add Scope
        </Link>
      }
    >
      <Flash />
      <p class="muted">
        A scope names folders and services; a token with the scope may run every service in them (and the
        user's ACLs still apply).
      </p>
      <Loading problem={scopes.problem} loading={scopes.loading}>
        {scopes.data && scopes.data.length === 0 ? <p>No scopes yet.</p> : null}
        {scopes.data && scopes.data.length > 0 ? (
          <div class="table-wrap">
            <table>
              <caption>Scopes</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Description</th>
                  <th scope="col">Folders and services</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {scopes.data.map((scope) => (
                  <tr key={scope.name}>
                    <th scope="row">
                      <Link
                        href={`${PATHS.scopes}/${seg(scope.name)}`}
                        aria-label={`Edit scope ${scope.name}`}
                      >
                        {scope.name}
                      </Link>
                    </th>
                    <td>{scope.description || <span class="muted">—</span>}</td>
                    <td>
                      <ul class="list">
                        {scope.values.map((v) => (
                          <li key={v}>
                            <code>{v}</code>
                          </li>
                        ))}
                      </ul>
                    </td>
                    <td>
                      <ActionButton
                        label="Delete"
                        busyLabel="Deleting…"
                        class="danger"
                        aria-label={`Delete scope ${scope.name}`}
                        confirm={`Delete the scope ${scope.name}?`}
                        onClick={async () => {
                          await api.del(`/admin/api/oauth/scopes/${seg(scope.name)}`);
                          await scopes.reload();
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

function EditScope(props: { name: string }) {
  const scope = useResource<Scope>(`/admin/api/oauth/scopes/${seg(props.name)}`);
  return (
    <Loading problem={scope.problem} loading={scope.loading}>
      {scope.data ? <ScopeForm scope={scope.data} /> : null}
    </Loading>
  );
}

function ScopeForm(props: { scope?: Scope }) {
  const editing = props.scope;
  const [name, setName] = useState(editing?.name ?? "");
  const [description, setDescription] = useState(editing?.description ?? "");
  const [values, setValues] = useState<string[]>(editing?.values ?? []);
  const [pending, setPending] = useState("");
  // The entries the API said do not exist (its error's `unknown`), marked in the list.
  const [unknown, setUnknown] = useState<string[]>([]);
  return (
    <OAuthPage title={editing ? `Edit Scope ${editing.name}` : "Add Scope"}>
      <Form
        aria-label={editing ? `Edit scope ${editing.name}` : "Add scope"}
        submitLabel={editing ? "Save Changes" : "Save Scope"}
        busyLabel="Saving…"
        extraButtons={
          <Link href={PATHS.scopes} class="button">
            Cancel
          </Link>
        }
        onSubmit={async () => {
          // What is typed but not yet added counts too: nothing typed is lost on Save.
          const typed = pending.trim();
          const list = typed && !values.includes(typed) ? [...values, typed] : values;
          if (list !== values) {
            setValues(list);
            setPending("");
          }
          setUnknown([]);
          try {
            if (editing) {
              await api.put(`/admin/api/oauth/scopes/${seg(editing.name)}`, { description, values: list });
              navigateWith(PATHS.scopes, `Scope ${editing.name} saved.`);
            } else {
              const created = await api.post<Scope>("/admin/api/oauth/scopes", {
                name,
                description,
                values: list,
              });
              navigateWith(PATHS.scopes, `Scope ${created.name} added.`);
            }
          } catch (error) {
            const named = error instanceof ApiError ? error.body?.unknown : undefined;
            if (Array.isArray(named)) setUnknown(named.filter((v): v is string => typeof v === "string"));
            throw error;
          }
        }}
      >
        <TextField
          label="Name"
          name="name"
          value={name}
          onInput={setName}
          readOnly={Boolean(editing)}
          hint={
            editing
              ? "A scope's name cannot change."
              : "As the clients ask for it (and as an external authorization server names it): no spaces, quotes or backslashes."
          }
        />
        <TextArea
          label="Description"
          name="description"
          value={description}
          onInput={setDescription}
          rows={2}
          spellcheck
        />
        <NodePicker
          values={values}
          unknown={unknown}
          onChange={setValues}
          text={pending}
          onText={setPending}
        />
      </Form>
    </OAuthPage>
  );
}

/**
 * The folders and services of a scope: the chosen ones as a list (each with a Remove button), and a
 * text input with the namespace as suggestions (a datalist); Enter or "Add" adds what is typed.
 * Anything may be typed: the API checks that it exists, and its message appears here.
 */
function NodePicker(props: {
  values: string[];
  unknown: string[];
  onChange: (values: string[]) => void;
  text: string;
  onText: (text: string) => void;
}) {
  const namespace = useResource<Namespace>("/admin/api/services");
  const add = () => {
    const value = props.text.trim();
    if (!value) return;
    if (!props.values.includes(value)) props.onChange([...props.values, value]);
    props.onText("");
  };
  return (
    <Field
      label="Folders and services"
      name="values"
      hint="A folder (pub.math) covers every service in it; a service is named in full (pub.math:randomDouble). Type to see suggestions."
    >
      {({ id, describedBy, invalid }) => (
        <div class="node-picker">
          {props.values.length > 0 ? (
            <ul class="chosen" aria-label="Chosen folders and services">
              {props.values.map((value) => (
                <li key={value} class={props.unknown.includes(value) ? "unknown" : undefined}>
                  <code>{value}</code>
                  {props.unknown.includes(value) ? (
                    <span class="visually-hidden"> (does not exist)</span>
                  ) : null}
                  <button
                    type="button"
                    class="secondary small"
                    aria-label={`Remove ${value}`}
                    onClick={() => props.onChange(props.values.filter((v) => v !== value))}
                  >
                    Remove
                  </button>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">None chosen yet.</p>
          )}
          <div class="add-row">
            <input
              id={id}
              list={`${id}-options`}
              value={props.text}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              autoComplete="off"
              placeholder="e.g. pub.math"
              onInput={(event) => props.onText((event.target as HTMLInputElement).value)}
              onKeyDown={(event) => {
                if (event.key === "Enter") {
                  event.preventDefault();
                  add();
                }
              }}
            />
            <button type="button" class="secondary" aria-label="Add folder or service" onClick={add}>
              Add
            </button>
          </div>
          <datalist id={`${id}-options`}>
            {(namespace.data?.folders ?? []).map((f) => (
              <option key={f.name} value={f.name}>
                folder
              </option>
            ))}
            {(namespace.data?.services ?? []).map((s) => (
              <option key={s.name} value={s.name}>
                {s.description}
              </option>
            ))}
          </datalist>
          {namespace.problem ? (
            <p class="error">The namespace cannot be listed: {namespace.problem.message}</p>
          ) : null}
        </div>
      )}
    </Field>
  );
}
