import { useState } from "preact/hooks";
import { api, seg } from "../api.js";
import type { ScreenProps } from "../routes.js";
import { Link, navigate } from "../router.js";
import { BackLink, Flash, navigateWith, segments, words } from "../screen-kit.js";
import { ActionButton, CheckboxGroup, Form, Loading, Page, TextField, useResource } from "../ui.js";
import { PATHS } from "../paths.js";

/** Security > ACLs: access control lists, each an allow and a deny list of groups. */

interface Acl {
  name: string;
  allow: string[];
  deny: string[];
  builtin: boolean;
  usedBy?: string[];
}
interface Group {
  name: string;
  description: string;
}

const BASE = PATHS.acls;
/** Callers without credentials: not a stored group, but ACLs may name it. */
const ANONYMOUS = "Anonymous";

export default function Acls({ rest }: ScreenProps) {
  const [name] = segments(rest);
  if (name === "new") return <AclEditor />;
  if (name) return <AclPage name={name} />;
  return <AclList />;
}

function AclList() {
  const acls = useResource<Acl[]>("/admin/api/acls");
  const [notice, setNotice] = useState<string | undefined>(undefined);
  return (
    <Page
      title="ACLs"
      actions={
        <Link class="button" href={`${BASE}/new`}>
          Add ACL
        </Link>
      }
    >
      <Flash />
      {notice ? (
        <p class="notice ok" role="status">
          {notice}
        </p>
      ) : null}
      <p class="muted">
        An ACL allows the groups of its allow list and denies those of its deny list (a deny wins). Assign
        ACLs to folders and services on the <Link href={PATHS.services}>Service Namespace</Link> screen.
      </p>
      <Loading problem={acls.problem} loading={acls.loading}>
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Access control lists</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Allowed</th>
                <th scope="col">Denied</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {(acls.data ?? []).map((acl) => (
                <tr key={acl.name}>
                  <th scope="row">
                    {acl.name}
                    {acl.builtin ? <span class="badge"> built in</span> : null}
                  </th>
                  <td>{words(acl.allow)}</td>
                  <td>{words(acl.deny)}</td>
                  <td>
                    <div class="row-actions">
                      <Link
                        href={`${BASE}/${seg(acl.name)}`}
                        aria-label={`${acl.builtin ? "View" : "Edit"} ACL ${acl.name}`}
                      >
                        {acl.builtin ? "View" : "Edit"}
                      </Link>
                      {acl.builtin ? null : (
                        <ActionButton
                          label="Delete"
                          class="danger"
                          aria-label={`Delete ACL ${acl.name}`}
                          confirm={`Delete ACL ${acl.name}?`}
                          onClick={async () => {
                            await api.del(`/admin/api/acls/${seg(acl.name)}`);
                            setNotice(`ACL ${acl.name} deleted.`);
                            await acls.reload();
                          }}
                        />
                      )}
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

function AclPage(props: { name: string }) {
  const acl = useResource<Acl>(`/admin/api/acls/${seg(props.name)}`);
  return (
    <Loading problem={acl.problem} loading={acl.loading}>
      {acl.data ? <AclEditor acl={acl.data} /> : null}
    </Loading>
  );
}

/** Adds an ACL (no `acl`) or edits one; a built-in ACL is shown, not edited. */
function AclEditor(props: { acl?: Acl }) {
  const existing = props.acl;
  const [name, setName] = useState(existing?.name ?? "");
  const [allow, setAllow] = useState<string[]>(existing?.allow ?? []);
  const [deny, setDeny] = useState<string[]>(existing?.deny ?? []);
  const groups = useResource<Group[]>("/admin/api/groups");
  const known = [...(groups.data ?? []).map((g) => g.name), ANONYMOUS];
  // Names an ACL holds that are no longer groups stay choosable, so saving does not drop them silently.
  const options = [...new Set([...known, ...allow, ...deny])].map((value) => ({
    value,
    label: value === ANONYMOUS ? "Anonymous (callers without credentials)" : value,
  }));
  const title = existing ? `ACL ${existing.name}` : "Add ACL";
  return (
    <Page title={title}>
      <BackLink href={BASE}>ACLs</BackLink>
      {existing ? (
        <p>
          Assigned to:{" "}
          {existing.usedBy && existing.usedBy.length > 0
            ? existing.usedBy.map((node, i) => (
                <span key={node}>
                  {i > 0 ? ", " : ""}
                  <Link href={`/admin/services/${node}`}>{node}</Link>
                </span>
              ))
            : "no folder or service"}
        </p>
      ) : null}
      {existing?.builtin ? (
        <div class="panel">
          <p>This ACL is built in and cannot be changed.</p>
          <dl class="facts">
            <dt>Allowed</dt>
            <dd>{words(existing.allow)}</dd>
            <dt>Denied</dt>
            <dd>{words(existing.deny)}</dd>
          </dl>
        </div>
      ) : (
        <div class="panel">
          <Loading problem={groups.problem} loading={groups.loading}>
            <Form
              aria-label={title}
              submitLabel={existing ? "Save" : "Add ACL"}
              busyLabel="Saving…"
              onSubmit={async () => {
                if (existing) await api.put(`/admin/api/acls/${seg(existing.name)}`, { allow, deny });
                else await api.post("/admin/api/acls", { name, allow, deny });
                navigateWith(BASE, existing ? `ACL ${name} saved.` : `ACL ${name} added.`);
              }}
              extraButtons={
                <button type="button" class="secondary" onClick={() => navigate(BASE)}>
                  Cancel
                </button>
              }
            >
              {existing ? null : (
                <TextField label="Name" name="name" value={name} onInput={setName} required />
              )}
              <CheckboxGroup
                legend="Allowed groups"
                name="allow"
                options={options}
                selected={allow}
                onChange={setAllow}
                hint="Members of any of these groups may run what the ACL guards."
              />
              <CheckboxGroup
                legend="Denied groups"
                name="deny"
                options={options}
                selected={deny}
                onChange={setDeny}
                hint="Members of any of these groups may not, even if another group of theirs is allowed."
              />
            </Form>
          </Loading>
        </div>
      )}
    </Page>
  );
}
