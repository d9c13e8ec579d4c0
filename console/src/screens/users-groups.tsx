import { useState } from "preact/hooks";
import { api, seg } from "../api.js";
import type { ScreenProps } from "../routes.js";
import { Link, navigate } from "../router.js";
import { BackLink, Flash, navigateWith, segments, words } from "../screen-kit.js";
import { PATHS } from "../paths.js";
import {
  ActionButton,
  CheckboxGroup,
  Form,
  Loading,
  Page,
  TextArea,
  TextField,
  useResource,
  when,
} from "../ui.js";

/** Security > Users and Groups: users (with their groups and passwords) and groups (with their members). */

interface User {
  username: string;
  groups: string[];
  createdAt: string;
  updatedAt: string;
}
interface Group {
  name: string;
  description: string;
  builtin: boolean;
  members?: string[];
}

const BASE = PATHS.users;
const EVERYBODY = "Everybody";

export default function UsersAndGroups({ rest }: ScreenProps) {
  const [kind, name] = segments(rest);
  if (kind === "users" && name === "new") return <AddUser />;
  if (kind === "users" && name) return <EditUser username={name} />;
  if (kind === "groups" && name === "new") return <AddGroup />;
  if (kind === "groups" && name) return <EditGroup name={name} />;
  return <Overview />;
}

function Overview() {
  const users = useResource<User[]>("/admin/api/users");
  const groups = useResource<Group[]>("/admin/api/groups");
  const [notice, setNotice] = useState<string | undefined>(undefined);
  return (
    <Page title="Users and Groups">
      <Flash />
      {notice ? (
        <p class="notice ok" role="status">
          {notice}
        </p>
      ) : null}
      <section aria-labelledby="users-heading">
        <div class="page-header">
          <h2 id="users-heading">Users</h2>
          <Link class="button" href={`${BASE}/users/new`}>
            Add user
          </Link>
        </div>
        <Loading problem={users.problem} loading={users.loading}>
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Users</caption>
              <thead>
                <tr>
                  <th scope="col">Username</th>
                  <th scope="col">Groups</th>
                  <th scope="col">Changed</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {(users.data ?? []).map((user) => (
                  <tr key={user.username}>
                    <th scope="row">{user.username}</th>
                    <td>{words(user.groups)}</td>
                    <td class="nowrap">{when(user.updatedAt)}</td>
                    <td>
                      <div class="row-actions">
                        <Link
                          href={`${BASE}/users/${seg(user.username)}`}
                          aria-label={`Edit user ${user.username}`}
                        >
                          Edit
                        </Link>
                        {user.username === "Administrator" ? null : (
                          <ActionButton
                            label="Delete"
                            class="danger"
                            aria-label={`Delete user ${user.username}`}
                            confirm={`Delete user ${user.username}? This cannot be undone.`}
                            onClick={async () => {
                              await api.del(`/admin/api/users/${seg(user.username)}`);
                              setNotice(`User ${user.username} deleted.`);
                              await users.reload();
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
      </section>
      <section aria-labelledby="groups-heading">
        <div class="page-header">
          <h2 id="groups-heading">Groups</h2>
          <Link class="button" href={`${BASE}/groups/new`}>
            Add group
          </Link>
        </div>
        <Loading problem={groups.problem} loading={groups.loading}>
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Groups</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Description</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {(groups.data ?? []).map((group) => (
                  <tr key={group.name}>
                    <th scope="row">
                      {group.name}
                      {group.builtin ? <span class="badge"> built in</span> : null}
                    </th>
                    <td>{group.description || <span class="muted">—</span>}</td>
                    <td>
                      <div class="row-actions">
                        <Link
                          href={`${BASE}/groups/${seg(group.name)}`}
                          aria-label={`Edit group ${group.name}`}
                        >
                          {group.name === EVERYBODY ? "View" : "Edit"}
                        </Link>
                        {group.builtin ? null : (
                          <ActionButton
                            label="Delete"
                            class="danger"
                            aria-label={`Delete group ${group.name}`}
                            confirm={`Delete group ${group.name}? Its members leave it; ACLs naming it keep the name.`}
                            onClick={async () => {
                              await api.del(`/admin/api/groups/${seg(group.name)}`);
                              setNotice(`Group ${group.name} deleted.`);
                              await Promise.all([groups.reload(), users.reload()]);
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
      </section>
    </Page>
  );
}

/** The groups one can put a user in (everyone is in Everybody already). */
function useGroupOptions() {
  const groups = useResource<Group[]>("/admin/api/groups");
  const options = (groups.data ?? [])
    .filter((g) => g.name !== EVERYBODY)
    .map((g) => ({ value: g.name, label: g.description ? `${g.name} (${g.description})` : g.name }));
  return { groups, options };
}

function AddUser() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [chosen, setChosen] = useState<string[]>([]);
  const { groups, options } = useGroupOptions();
  return (
    <Page title="Add user">
      <BackLink href={BASE}>Users and Groups</BackLink>
      <div class="panel">
        <Form
          aria-label="Add user"
          submitLabel="Add user"
          busyLabel="Adding…"
          onSubmit={async () => {
            await api.post("/admin/api/users", { username, password, groups: chosen });
            setPassword("");
            navigateWith(BASE, `User ${username} added.`);
          }}
          extraButtons={
            <button type="button" class="secondary" onClick={() => navigate(BASE)}>
              Cancel
            </button>
          }
        >
          <TextField label="Username" name="username" value={username} onInput={setUsername} required />
          <TextField
            label="Password"
            name="password"
            type="password"
            value={password}
            onInput={setPassword}
            autoComplete="new-password"
            hint="At least 8 characters. Conduit keeps only a hash of it."
            required
          />
          <Loading problem={groups.problem} loading={groups.loading}>
            <CheckboxGroup
              legend="Groups"
              name="groups"
              options={options}
              selected={chosen}
              onChange={setChosen}
              hint="Every user is in Everybody as well."
            />
          </Loading>
        </Form>
      </div>
    </Page>
  );
}

function EditUser(props: { username: string }) {
  const user = useResource<User>(`/admin/api/users/${seg(props.username)}`);
  return (
    <Page title={`User ${props.username}`}>
      <BackLink href={BASE}>Users and Groups</BackLink>
      <Loading problem={user.problem} loading={user.loading}>
        {user.data ? <EditUserForm user={user.data} /> : null}
      </Loading>
    </Page>
  );
}

function EditUserForm(props: { user: User }) {
  const [chosen, setChosen] = useState<string[]>(props.user.groups.filter((g) => g !== EVERYBODY));
  const [password, setPassword] = useState("");
  const { groups, options } = useGroupOptions();
  const name = props.user.username;
  return (
    <div class="panel">
      <p class="muted">
        Created {when(props.user.createdAt)}, changed {when(props.user.updatedAt)}.
      </p>
      <Form
        aria-label={`Edit user ${name}`}
        submitLabel="Save"
        busyLabel="Saving…"
        onSubmit={async () => {
          await api.put(`/admin/api/users/${seg(name)}`, {
            groups: chosen,
            ...(password ? { password } : {}),
          });
          setPassword("");
          navigateWith(BASE, password ? `User ${name} saved, with a new password.` : `User ${name} saved.`);
        }}
        extraButtons={
          <button type="button" class="secondary" onClick={() => navigate(BASE)}>
            Cancel
          </button>
        }
      >
        <Loading problem={groups.problem} loading={groups.loading}>
          <CheckboxGroup
            legend="Groups"
            name="groups"
            options={options}
            selected={chosen}
            onChange={setChosen}
            hint="Every user is in Everybody as well."
          />
        </Loading>
        <TextField
          label="New password"
          name="password"
          type="password"
          value={password}
          onInput={setPassword}
          autoComplete="new-password"
          hint="Leave empty to keep the current password. At least 8 characters."
        />
      </Form>
    </div>
  );
}

function AddGroup() {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  return (
    <Page title="Add group">
      <BackLink href={BASE}>Users and Groups</BackLink>
      <div class="panel">
        <Form
          aria-label="Add group"
          submitLabel="Add group"
          busyLabel="Adding…"
          onSubmit={async () => {
            await api.post("/admin/api/groups", { name, description });
            navigateWith(BASE, `Group ${name} added.`);
          }}
          extraButtons={
            <button type="button" class="secondary" onClick={() => navigate(BASE)}>
              Cancel
            </button>
          }
        >
          <TextField label="Name" name="name" value={name} onInput={setName} required />
          <TextArea
            label="Description"
            name="description"
            value={description}
            onInput={setDescription}
            rows={2}
          />
        </Form>
      </div>
    </Page>
  );
}

function EditGroup(props: { name: string }) {
  const group = useResource<Group>(`/admin/api/groups/${seg(props.name)}`);
  const users = useResource<User[]>("/admin/api/users");
  return (
    <Page title={`Group ${props.name}`}>
      <BackLink href={BASE}>Users and Groups</BackLink>
      <Loading problem={group.problem ?? users.problem} loading={group.loading || users.loading}>
        {group.data && users.data ? <EditGroupForm group={group.data} users={users.data} /> : null}
      </Loading>
    </Page>
  );
}

/**
 * A group's description and members. The API keeps membership on the user, so saving members updates
 * each user that joins or leaves.
 */
function EditGroupForm(props: { group: Group; users: User[] }) {
  const { group } = props;
  const [description, setDescription] = useState(group.description);
  const [members, setMembers] = useState<string[]>(group.members ?? []);
  if (group.name === EVERYBODY)
    return (
      <div class="panel">
        <p>{group.description}</p>
        <p>Every authenticated user is a member of Everybody; it cannot be edited.</p>
      </div>
    );
  return (
    <div class="panel">
      <Form
        aria-label={`Edit group ${group.name}`}
        submitLabel="Save"
        busyLabel="Saving…"
        onSubmit={async () => {
          if (description !== group.description)
            await api.put(`/admin/api/groups/${seg(group.name)}`, { description });
          const before = new Set(group.members ?? []);
          const after = new Set(members);
          for (const user of props.users) {
            const joins = after.has(user.username) && !before.has(user.username);
            const leaves = before.has(user.username) && !after.has(user.username);
            if (!joins && !leaves) continue;
            const groups = user.groups.filter((g) => g !== EVERYBODY && g !== group.name);
            if (joins) groups.push(group.name);
            await api.put(`/admin/api/users/${seg(user.username)}`, { groups });
          }
          navigateWith(BASE, `Group ${group.name} saved.`);
        }}
        extraButtons={
          <button type="button" class="secondary" onClick={() => navigate(BASE)}>
            Cancel
          </button>
        }
      >
        <TextArea
          label="Description"
          name="description"
          value={description}
          onInput={setDescription}
          rows={2}
        />
        <CheckboxGroup
          legend="Members"
          name="members"
          options={props.users.map((u) => ({ value: u.username }))}
          selected={members}
          onChange={setMembers}
        />
      </Form>
    </div>
  );
}
