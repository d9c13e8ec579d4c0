import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, seg } from "../api.js";
import type { ScreenProps } from "../routes.js";
import { Link, navigate } from "../router.js";
import { BackLink, Flash, navigateWith, segments } from "../screen-kit.js";
import { PATHS } from "../paths.js";
import {
  ActionButton,
  Field,
  Form,
  Loading,
  Notice,
  Page,
  SelectField,
  TextField,
  useResource,
} from "../ui.js";

/**
 * Packages > Flows: the flow services, each one's steps as an outline, and its YAML to edit; the server
 * checks a saved flow completely and its problems (with the path at fault) are shown next to the editor.
 */

interface FlowListEntry {
  name: string;
  package: string;
  file: string;
}
interface MapSpec {
  copy?: Record<string, string>;
  set?: Record<string, unknown>;
  substitute?: boolean;
  drop?: string[];
}
interface Step extends MapSpec {
  type: string;
  label?: string;
  comment?: string;
  disabled?: boolean;
  service?: string;
  input?: MapSpec;
  output?: MapSpec | string;
  switch?: string;
  evaluateLabels?: boolean;
  cases?: { label: string; comment?: string; steps: Step[] }[];
  over?: string;
  count?: number;
  interval?: number;
  repeatOn?: string;
  exitOn?: string;
  steps?: Step[];
  catch?: Step[];
  finally?: Step[];
  from?: string;
  signal?: string;
  message?: string;
}
interface FlowDefinition {
  name: string;
  description?: string;
  signature: { input: { name: string; type: string }[]; output: { name: string; type: string }[] };
  steps: Step[];
}
interface FlowView extends FlowListEntry {
  definition: FlowDefinition;
  warnings?: string[];
}
/** A problem of a flow, from the API: a JSON pointer into the definition (or a place in the text). */
interface FlowProblem {
  path?: string;
  file?: string;
  message: string;
  line?: number;
}

const BASE = PATHS.flows;

export default function Flows({ rest }: ScreenProps) {
  const [name] = segments(rest);
  if (name === "new") return <NewFlow />;
  if (name) return <FlowPage key={name} name={name} />;
  return <FlowList />;
}

/** The `yaml` package, loaded when an editor opens (the rest of the console does not need it). */
type YamlModule = typeof import("yaml");
let yamlModule: Promise<YamlModule> | undefined;
function useYaml(): YamlModule | undefined {
  const [mod, setMod] = useState<YamlModule | undefined>(undefined);
  useEffect(() => {
    yamlModule ??= import("yaml");
    void yamlModule.then(setMod);
  }, []);
  return mod;
}

/** The line of the YAML text where a JSON pointer's node starts (or its nearest existing parent's). */
function lineOf(yaml: YamlModule, text: string, pointer: string | undefined): number | undefined {
  if (pointer === undefined || !pointer.startsWith("/")) return undefined;
  try {
    const lineCounter = new yaml.LineCounter();
    const doc = yaml.parseDocument(text, { lineCounter });
    const parts = pointer
      .split("/")
      .slice(1)
      .filter((p) => p !== "")
      .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
      .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    for (let n = parts.length; n >= 0; n--) {
      const node = (n === 0 ? doc.contents : doc.getIn(parts.slice(0, n), true)) as {
        range?: [number, number, number];
      } | null;
      if (node && node.range) return lineCounter.linePos(node.range[0]).line;
    }
  } catch {
    // text that does not parse: no line to point at
  }
  return undefined;
}

/** The problems of a failed save, from the API's answer: `problems` of invalid_flow, or the errors of the
 * package (package_invalid) when the flow is valid but its package would not load. */
function problemsOf(error: ApiError): FlowProblem[] | undefined {
  if (error.code === "invalid_flow" && Array.isArray(error.body?.problems))
    return error.body.problems as FlowProblem[];
  const pkg = error.body?.package as { errors?: FlowProblem[] } | undefined;
  if (error.code === "package_invalid" && Array.isArray(pkg?.errors)) return pkg.errors;
  return undefined;
}

function FlowList() {
  const flows = useResource<FlowListEntry[]>("/admin/api/flows");
  return (
    <Page
      title="Flows"
      actions={
        <Link class="button" href={`${BASE}/new`}>
          New flow
        </Link>
      }
    >
      <Flash />
      <Loading problem={flows.problem} loading={flows.loading}>
        {flows.data && flows.data.length === 0 ? <p>No flow services yet.</p> : null}
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Flow services</caption>
            <thead>
              <tr>
                <th scope="col">Flow service</th>
                <th scope="col">Package</th>
                <th scope="col">File</th>
              </tr>
            </thead>
            <tbody>
              {(flows.data ?? []).map((flow) => (
                <tr key={flow.name}>
                  <th scope="row">
                    <Link href={`${BASE}/${flow.name}`}>{flow.name}</Link>
                  </th>
                  <td>
                    <Link href={`/admin/packages/${seg(flow.package)}`}>{flow.package}</Link>
                  </td>
                  <td>
                    <code>{flow.file}</code>
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

function FlowPage(props: { name: string }) {
  const flow = useResource<FlowView>(`/admin/api/flows/${seg(props.name)}`);
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const f = flow.data;
  return (
    <Page title={`Flow ${props.name}`}>
      <BackLink href={BASE}>Flows</BackLink>
      <Loading problem={flow.problem} loading={flow.loading && !f}>
        {f ? (
          <>
            <dl class="facts">
              <dt>Package</dt>
              <dd>
                <Link href={`/admin/packages/${seg(f.package)}`}>{f.package}</Link>
              </dd>
              <dt>File</dt>
              <dd>
                <code>{f.file}</code>
              </dd>
              {f.definition.description ? (
                <>
                  <dt>Description</dt>
                  <dd>{f.definition.description}</dd>
                </>
              ) : null}
              <dt>Service</dt>
              <dd>
                <Link href={`/admin/services/${f.name}`}>Properties, permissions and Run</Link>
              </dd>
            </dl>
            {f.warnings && f.warnings.length > 0 ? (
              <div class="notice warn" role="status">
                <p>Warnings:</p>
                <ul class="list">
                  {f.warnings.map((w) => (
                    <li key={w}>{w}</li>
                  ))}
                </ul>
              </div>
            ) : null}
            {saved ? <Notice>{saved}</Notice> : null}
            <div class="split">
              <section class="panel" aria-labelledby="yaml-heading">
                <h2 id="yaml-heading">Edit YAML</h2>
                <FlowEditor
                  name={f.name}
                  definition={f.definition}
                  onSaved={async () => {
                    setSaved(
                      `Flow ${f.name} saved; its package is reloaded and /invoke runs the new version.`,
                    );
                    await flow.reload();
                  }}
                />
              </section>
              <section class="panel" aria-labelledby="outline-heading">
                <h2 id="outline-heading">Steps</h2>
                <Outline definition={f.definition} />
              </section>
            </div>
            <p>
              <ActionButton
                label="Delete flow"
                class="danger"
                aria-label={`Delete flow ${f.name}`}
                confirm={`Delete flow ${f.name}? Its file is removed from package ${f.package}.`}
                onClick={async () => {
                  await api.del(`/admin/api/flows/${seg(f.name)}`);
                  navigateWith(BASE, `Flow ${f.name} deleted.`);
                }}
              />
            </p>
          </>
        ) : null}
      </Loading>
    </Page>
  );
}

/** The YAML editor: a textarea, Save, and the problems of the last save next to it, each with its line. */
function FlowEditor(props: {
  name: string;
  definition?: FlowDefinition;
  packageName?: string;
  initialText?: string;
  onSaved: () => Promise<void> | void;
  extraFields?: ComponentChildren;
  /** For a new flow: the name and package come from fields of the form. */
  target?: () => { name: string; package: string };
}) {
  const yaml = useYaml();
  const [text, setText] = useState<string | undefined>(props.initialText);
  const [problems, setProblems] = useState<FlowProblem[]>([]);
  const [summary, setSummary] = useState<string | undefined>(undefined);
  const area = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    if (yaml && text === undefined && props.definition)
      setText(yaml.stringify(props.definition, { lineWidth: 0 }));
  }, [yaml, props.definition]);
  const problemsId = `problems-${props.name || "new"}`;

  const goToLine = (line: number) => {
    const el = area.current;
    if (!el) return;
    const lines = el.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    el.focus();
    el.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
  };

  if (!yaml || text === undefined) return <p aria-busy="true">Loading the editor…</p>;
  return (
    <Form
      aria-label={`Edit flow ${props.name || "new"}`}
      submitLabel={props.target ? "Create flow" : "Save"}
      busyLabel="Saving…"
      onSubmit={async () => {
        setProblems([]);
        setSummary(undefined);
        const target = props.target?.();
        const name = target?.name ?? props.name;
        try {
          await api.put(`/admin/api/flows/${seg(name)}`, {
            definition: text,
            ...(target ? { package: target.package } : {}),
          });
        } catch (error) {
          const found = error instanceof ApiError ? problemsOf(error) : undefined;
          if (!found || !(error instanceof ApiError)) throw error;
          setSummary(error.message);
          setProblems(found.map((p) => ({ ...p, line: p.file ? undefined : lineOf(yaml, text, p.path) })));
          return;
        }
        await props.onSaved();
      }}
    >
      {props.extraFields}
      <Field label="Flow definition (YAML)" name="definition" hint="YAML or JSON, as in a .flow.yaml file.">
        {({ id, describedBy, invalid }) => (
          <div class="editor">
            <textarea
              id={id}
              ref={area}
              name="definition"
              rows={22}
              spellcheck={false}
              aria-describedby={
                [describedBy, problems.length > 0 ? problemsId : ""].filter(Boolean).join(" ") || undefined
              }
              aria-invalid={invalid || problems.length > 0}
              value={text}
              onInput={(event) => setText((event.target as HTMLTextAreaElement).value)}
            />
          </div>
        )}
      </Field>
      {problems.length > 0 || summary ? (
        <div id={problemsId} role="alert" class="flow-problems">
          <p class="error">{summary ?? "The flow has problems."}</p>
          <ul class="problems">
            {problems.map((p, i) => (
              <li key={i}>
                {p.line !== undefined ? (
                  <button
                    type="button"
                    class="secondary"
                    onClick={() => goToLine(p.line!)}
                    aria-label={`Go to line ${p.line}: ${p.message}`}
                  >
                    Line {p.line}
                  </button>
                ) : null}{" "}
                {p.file ? <code>{p.file}</code> : null}
                {p.path ? (
                  <>
                    {" "}
                    at <code>{p.path}</code>
                  </>
                ) : null}
                : {p.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </Form>
  );
}

const TEMPLATE = `signature:
  input:
    - { name: who, type: string }
  output:
    - { name: greeting, type: string }
steps:
  - type: map
    set:
      greeting: "Hello, %who%"
`;

function NewFlow() {
  const packages = useResource<{ name: string }[]>("/admin/api/packages");
  const [name, setName] = useState("");
  const [pkg, setPkg] = useState("");
  const chosen = pkg || packages.data?.[0]?.name || "";
  return (
    <Page title="New flow">
      <BackLink href={BASE}>Flows</BackLink>
      <Loading problem={packages.problem} loading={packages.loading}>
        {packages.data && packages.data.length === 0 ? (
          <p>There is no package to put a flow in: create a package folder first.</p>
        ) : (
          <div class="panel">
            <FlowEditor
              name=""
              initialText={TEMPLATE}
              target={() => ({ name, package: chosen })}
              onSaved={() => navigate(`${BASE}/${name}`)}
              extraFields={
                <>
                  <TextField
                    label="Service name"
                    name="name"
                    value={name}
                    onInput={setName}
                    placeholder="folder.sub:service"
                    required
                  />
                  <SelectField
                    label="Package"
                    name="package"
                    value={chosen}
                    onChange={setPkg}
                    options={(packages.data ?? []).map((p) => ({ value: p.name }))}
                  />
                </>
              }
            />
          </div>
        )}
      </Loading>
    </Page>
  );
}

// ---- the outline

const show = (value: unknown) => (typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value));

function MapLines(props: { map: MapSpec | undefined; title?: string }) {
  const map = props.map;
  if (!map) return null;
  const lines: ComponentChildren[] = [];
  for (const [to, from] of Object.entries(map.copy ?? {}))
    lines.push(
      <>
        copy <code>{to}</code> ← <code>{from}</code>
      </>,
    );
  for (const [to, value] of Object.entries(map.set ?? {}))
    lines.push(
      <>
        set <code>{to}</code> = <code>{show(value)}</code>
      </>,
    );
  for (const path of map.drop ?? [])
    lines.push(
      <>
        drop <code>{path}</code>
      </>,
    );
  if (lines.length === 0) return null;
  return (
    <ul class="list">
      {props.title ? <li class="sub-label">{props.title}</li> : null}
      {lines.map((line, i) => (
        <li key={i}>{line}</li>
      ))}
    </ul>
  );
}

function Steps(props: { steps: Step[] | undefined; label?: string }) {
  if (!props.steps || props.steps.length === 0)
    return props.label ? (
      <p class="sub-label">
        {props.label}: <span>no steps</span>
      </p>
    ) : null;
  return (
    <>
      {props.label ? <p class="sub-label">{props.label}:</p> : null}
      <ol class="outline">
        {props.steps.map((step, i) => (
          <StepItem key={i} step={step} />
        ))}
      </ol>
    </>
  );
}

function headline(step: Step): ComponentChildren {
  switch (step.type) {
    case "invoke":
      return <code>{step.service}</code>;
    case "branch":
      return step.evaluateLabels ? (
        "on expressions"
      ) : (
        <>
          on <code>{step.switch}</code>
        </>
      );
    case "loop":
      return (
        <>
          over <code>{step.over}</code>
          {typeof step.output === "string" ? (
            <>
              {" "}
              into <code>{step.output}</code>
            </>
          ) : null}
        </>
      );
    case "repeat":
      return `${step.count === -1 ? "until the step limit" : `${step.count} more time${step.count === 1 ? "" : "s"}`}, on ${step.repeatOn ?? "failure"}${step.interval ? `, every ${step.interval} s` : ""}`;
    case "sequence":
      return `exit on ${step.exitOn ?? "failure"}`;
    case "exit":
      return (
        <>
          from <code>{step.from ?? "$parent"}</code>, signal {step.signal ?? "success"}
          {step.message ? <>: “{step.message}”</> : null}
        </>
      );
    default:
      return null;
  }
}

function StepItem(props: { step: Step }) {
  const { step } = props;
  return (
    <li class={step.disabled ? "step-disabled" : undefined}>
      <span class="step-kind">{step.type.toUpperCase()}</span> {headline(step)}
      {step.label && step.type !== "branch" ? (
        <>
          {" "}
          <span class="badge">label {step.label}</span>
        </>
      ) : null}
      {step.disabled ? <span class="badge"> disabled</span> : null}
      {step.comment ? <span class="muted"> — {step.comment}</span> : null}
      {step.type === "map" ? <MapLines map={step} /> : null}
      {step.type === "invoke" ? (
        <>
          <MapLines map={step.input} title="input" />
          <MapLines map={typeof step.output === "object" ? step.output : undefined} title="output" />
        </>
      ) : null}
      {step.type === "branch" ? (
        <ol class="outline">
          {(step.cases ?? []).map((c, i) => (
            <li key={i}>
              <span class="sub-label">case</span> <code>{c.label}</code>
              {c.comment ? <span class="muted"> — {c.comment}</span> : null}
              {c.steps.length === 0 ? <span class="muted"> (no steps)</span> : <Steps steps={c.steps} />}
            </li>
          ))}
        </ol>
      ) : null}
      {step.type === "try" ? (
        <>
          <Steps steps={step.steps} label="try" />
          {step.catch ? <Steps steps={step.catch} label="catch" /> : null}
          {step.finally ? <Steps steps={step.finally} label="finally" /> : null}
        </>
      ) : step.type !== "branch" ? (
        <Steps steps={step.steps} />
      ) : null}
    </li>
  );
}

function Outline(props: { definition: FlowDefinition }) {
  const { definition } = props;
  const fields = (list: { name: string; type: string }[]) =>
    list.length === 0 ? "none" : list.map((f) => `${f.name} (${f.type})`).join(", ");
  return (
    <>
      <dl class="facts">
        <dt>Input</dt>
        <dd>{fields(definition.signature.input)}</dd>
        <dt>Output</dt>
        <dd>{fields(definition.signature.output)}</dd>
      </dl>
      {definition.steps.length === 0 ? <p>No steps.</p> : <Steps steps={definition.steps} />}
    </>
  );
}
