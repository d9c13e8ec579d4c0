import { useMemo, useState } from "preact/hooks";
import { ApiError, api, seg } from "../api.js";
import type { ScreenProps } from "../routes.js";
import { Link } from "../router.js";
import { BackLink, Json, segments } from "../screen-kit.js";
import { Form, Loading, Notice, Page, SelectField, TextArea, TextField, useResource } from "../ui.js";
import { PATHS } from "../paths.js";

/**
 * Packages > Service Namespace: folders and services as a tree, each with its ACL (its own or inherited)
 * and its signature; assigning an ACL to a folder or service; Test > Run of a service, as in IS.
 */

type FieldType = "string" | "number" | "integer" | "boolean" | "object" | "array" | "bytes" | "any";
interface FieldSpec {
  name: string;
  type: FieldType;
  required?: boolean;
  description?: string;
}
interface ServiceView {
  name: string;
  kind: "service";
  folder: string;
  description: string;
  package: string;
  acl: string;
  aclFrom: string | null;
  signature?: { input: FieldSpec[]; output: FieldSpec[] };
}
interface FolderView {
  name: string;
  kind: "folder";
  acl: string;
  aclFrom: string | null;
}
interface Namespace {
  folders: FolderView[];
  services: ServiceView[];
}

const BASE = PATHS.services;

export default function ServiceNamespace({ rest }: ScreenProps) {
  const [name] = segments(rest);
  return name ? <NodePage key={name} name={name} /> : <Tree />;
}

/** Where a node's ACL comes from, in words. */
function aclOrigin(node: { name: string; aclFrom: string | null }): string {
  if (node.aclFrom === null) return "server default";
  if (node.aclFrom === node.name) return "assigned here";
  return `inherited from ${node.aclFrom}`;
}

const parentOf = (folder: string) => (folder.includes(".") ? folder.slice(0, folder.lastIndexOf(".")) : "");
const lastPart = (name: string) => name.slice(Math.max(name.lastIndexOf("."), name.lastIndexOf(":")) + 1);

/** Which folders are open, kept while the console is open (coming back from a service keeps the tree). */
const expanded = new Set<string>();

function Tree() {
  const namespace = useResource<Namespace>("/admin/api/services");
  const [, setTick] = useState(0);
  const [filter, setFilter] = useState("");
  const rerender = () => setTick((n) => n + 1);
  const data = namespace.data;
  const index = useMemo(() => {
    const folders = new Map<string, FolderView[]>();
    const services = new Map<string, ServiceView[]>();
    for (const f of data?.folders ?? []) {
      const parent = parentOf(f.name);
      folders.set(parent, [...(folders.get(parent) ?? []), f]);
    }
    for (const s of data?.services ?? []) services.set(s.folder, [...(services.get(s.folder) ?? []), s]);
    for (const list of services.values()) list.sort((a, b) => a.name.localeCompare(b.name));
    return { folders, services };
  }, [data]);
  const matches = filter.trim()
    ? (data?.services ?? []).filter((s) => s.name.toLowerCase().includes(filter.trim().toLowerCase()))
    : undefined;

  const folderNode = (folder: FolderView) => {
    const open = expanded.has(folder.name);
    const childId = `children-${folder.name}`;
    return (
      <li key={folder.name}>
        <div class="tree-row">
          <button
            type="button"
            class="toggle"
            aria-expanded={open}
            aria-controls={open ? childId : undefined}
            aria-label={`Folder ${folder.name}`}
            onClick={() => {
              if (open) expanded.delete(folder.name);
              else expanded.add(folder.name);
              rerender();
            }}
          >
            {lastPart(folder.name)}
          </button>
          <span class="acl">
            ACL {folder.acl} ({aclOrigin(folder)})
          </span>
          <Link href={`${BASE}/${folder.name}`} aria-label={`Properties of folder ${folder.name}`}>
            Properties
          </Link>
        </div>
        {open ? (
          <ul id={childId}>
            {(index.folders.get(folder.name) ?? []).map(folderNode)}
            {(index.services.get(folder.name) ?? []).map(serviceNode)}
          </ul>
        ) : null}
      </li>
    );
  };
  const serviceNode = (service: ServiceView) => (
    <li key={service.name}>
      <div class="tree-row">
        <Link href={`${BASE}/${service.name}`} aria-label={service.name}>
          {matches ? service.name : lastPart(service.name)}
        </Link>
        <span class="acl">
          ACL {service.acl} ({aclOrigin(service)})
        </span>
      </div>
    </li>
  );

  return (
    <Page
      title="Service Namespace"
      actions={
        <>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              for (const f of data?.folders ?? []) expanded.add(f.name);
              rerender();
            }}
          >
            Expand all
          </button>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              expanded.clear();
              rerender();
            }}
          >
            Collapse all
          </button>
        </>
      }
    >
      <div class="filters">
        <TextField
          label="Find a service"
          name="filter"
          type="search"
          value={filter}
          onInput={setFilter}
          placeholder="e.g. addInts"
        />
      </div>
      <Loading problem={namespace.problem} loading={namespace.loading}>
        {matches ? (
          <>
            <p role="status">
              {matches.length} service{matches.length === 1 ? "" : "s"} found.
            </p>
            <ul class="tree" aria-label="Services found">
              {matches.map(serviceNode)}
            </ul>
          </>
        ) : (
          <ul class="tree" aria-label="Folders and services">
            {(index.folders.get("") ?? []).map(folderNode)}
          </ul>
        )}
      </Loading>
    </Page>
  );
}

function NodePage(props: { name: string }) {
  const node = useResource<ServiceView | FolderView>(`/admin/api/services/${seg(props.name)}`);
  const n = node.data;
  const isService = n?.kind === "service";
  return (
    <Page title={isService ? `Service ${props.name}` : `Folder ${props.name}`}>
      <BackLink href={BASE}>Service Namespace</BackLink>
      <Loading problem={node.problem} loading={node.loading}>
        {n ? (
          <>
            <dl class="facts">
              <dt>Kind</dt>
              <dd>{n.kind === "service" ? "Service" : "Folder"}</dd>
              {n.kind === "service" ? (
                <>
                  <dt>Package</dt>
                  <dd>{n.package}</dd>
                  <dt>Description</dt>
                  <dd>{n.description || "—"}</dd>
                </>
              ) : null}
              <dt>ACL</dt>
              <dd>
                {n.acl} ({aclOrigin(n)})
              </dd>
            </dl>
            <AssignAcl node={n} onAssigned={node.reload} />
            {n.kind === "service" && n.signature ? (
              <>
                <Signature signature={n.signature} />
                <RunService service={n} inputs={n.signature.input} />
              </>
            ) : null}
          </>
        ) : null}
      </Loading>
    </Page>
  );
}

function AssignAcl(props: { node: ServiceView | FolderView; onAssigned: () => Promise<void> }) {
  const { node } = props;
  const acls = useResource<{ name: string }[]>("/admin/api/acls");
  const own = node.aclFrom === node.name ? node.acl : "";
  const [choice, setChoice] = useState(own);
  const [done, setDone] = useState<string | undefined>(undefined);
  return (
    <section class="panel" aria-labelledby="acl-heading">
      <h2 id="acl-heading">Permissions</h2>
      <Loading problem={acls.problem} loading={acls.loading}>
        {done ? <Notice>{done}</Notice> : null}
        <Form
          aria-label="Assign ACL"
          submitLabel="Save ACL"
          busyLabel="Saving…"
          onSubmit={async () => {
            setDone(undefined);
            await api.put(`/admin/api/services/${seg(node.name)}/acl`, { acl: choice || null });
            setDone(
              choice
                ? `ACL ${choice} assigned to ${node.name}.`
                : `${node.name} has no ACL of its own now: it inherits one.`,
            );
            await props.onAssigned();
          }}
        >
          <SelectField
            label="ACL"
            name="acl"
            value={choice}
            onChange={setChoice}
            options={[
              { value: "", label: "Inherited (no ACL of its own)" },
              ...(acls.data ?? []).map((a) => ({ value: a.name })),
            ]}
            hint="Who may run this folder's services (or this service) over /invoke. A service's own ACL wins over its folders'."
          />
        </Form>
      </Loading>
    </section>
  );
}

function Signature(props: { signature: { input: FieldSpec[]; output: FieldSpec[] } }) {
  const table = (caption: string, fields: FieldSpec[]) => (
    <div class="table-wrap">
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Required</th>
            <th scope="col">Description</th>
          </tr>
        </thead>
        <tbody>
          {fields.length === 0 ? (
            <tr>
              <td colSpan={4}>None.</td>
            </tr>
          ) : (
            fields.map((f) => (
              <tr key={f.name}>
                <th scope="row">
                  <code>{f.name}</code>
                </th>
                <td>{f.type}</td>
                <td>{f.required ? "yes" : "no"}</td>
                <td>{f.description ?? ""}</td>
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
  return (
    <section class="panel" aria-labelledby="signature-heading">
      <h2 id="signature-heading">Input/Output</h2>
      {table("Input", props.signature.input)}
      {table("Output", props.signature.output)}
    </section>
  );
}

/** What a typed text field becomes in the JSON body; text that does not parse is sent as it is (the
 * service's signature check names the field at fault). */
function valueOf(field: FieldSpec, text: string): unknown {
  switch (field.type) {
    case "integer":
    case "number": {
      const n = Number(text.trim());
      return text.trim() !== "" && Number.isFinite(n) ? n : text;
    }
    case "boolean":
      return text === "true" ? true : text === "false" ? false : text;
    case "object":
    case "array":
    case "any":
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
    default:
      return text;
  }
}

function InputField(props: { field: FieldSpec; value: string; onInput: (value: string) => void }) {
  const { field } = props;
  const label = `${field.name} (${field.type}${field.required ? ", required" : ""})`;
  const hint = field.description;
  if (field.type === "boolean")
    return (
      <SelectField
        label={label}
        name={field.name}
        value={props.value}
        onChange={props.onInput}
        options={[{ value: "", label: "(not set)" }, { value: "true" }, { value: "false" }]}
        {...(hint ? { hint } : {})}
      />
    );
  if (field.type === "object" || field.type === "array" || field.type === "any")
    return (
      <TextArea
        label={label}
        name={field.name}
        value={props.value}
        onInput={props.onInput}
        rows={3}
        hint={`${hint ? `${hint} ` : ""}As JSON${field.type === "any" ? " (or plain text)" : ""}.`}
      />
    );
  return (
    <TextField
      label={label}
      name={field.name}
      type={field.type === "integer" || field.type === "number" ? "number" : "text"}
      value={props.value}
      onInput={props.onInput}
      required={field.required}
      hint={field.type === "bytes" ? `${hint ? `${hint} ` : ""}As base64 text.` : hint}
    />
  );
}

/** Test > Run: one labelled field per input, POST /invoke with a JSON body, the output pipeline. */
function RunService(props: { service: ServiceView; inputs: FieldSpec[] }) {
  const [values, setValues] = useState<Record<string, string>>({});
  const [output, setOutput] = useState<unknown>(undefined);
  const [ranAt, setRanAt] = useState<string | undefined>(undefined);
  return (
    <section class="panel" aria-labelledby="run-heading">
      <h2 id="run-heading">Test: Run {props.service.name}</h2>
      <Form
        aria-label={`Run ${props.service.name}`}
        submitLabel="Run"
        busyLabel="Running…"
        onSubmit={async () => {
          setOutput(undefined);
          const body: Record<string, unknown> = {};
          for (const field of props.inputs) {
            const text = values[field.name] ?? "";
            if (text !== "") body[field.name] = valueOf(field, text);
          }
          try {
            setOutput(await api.post(`/invoke/${props.service.name}`, body));
            setRanAt(new Date().toLocaleTimeString());
          } catch (error) {
            if (error instanceof ApiError)
              throw new ApiError(
                error.status,
                error.code,
                `The service answered ${error.status} (${error.code}): ${error.message}`,
                error.field,
              );
            throw error;
          }
        }}
      >
        {props.inputs.length === 0 ? <p>This service takes no input.</p> : null}
        {props.inputs.map((field) => (
          <InputField
            key={field.name}
            field={field}
            value={values[field.name] ?? ""}
            onInput={(value) => setValues({ ...values, [field.name]: value })}
          />
        ))}
      </Form>
      {output !== undefined ? (
        <section aria-labelledby="output-heading">
          <h3 id="output-heading">Output pipeline{ranAt ? ` (run at ${ranAt})` : ""}</h3>
          <Json value={output} label="Output pipeline as JSON" />
        </section>
      ) : null}
    </section>
  );
}
