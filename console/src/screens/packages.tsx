import { useState } from "preact/hooks";
import { ApiError, api, seg } from "../api.js";
import type { ScreenProps } from "../routes.js";
import { Link } from "../router.js";
import { BackLink, segments, words } from "../screen-kit.js";
import { Loading, Page, problemOf, useResource, when } from "../ui.js";
import { PATHS } from "../paths.js";

/** Packages > Management: every package with its state, the errors of broken ones, and Reload. */

interface PackageProblem {
  file: string;
  path?: string;
  message: string;
}
interface Package {
  name: string;
  version: string;
  description: string;
  requires: string[];
  loaded: boolean;
  services: string[];
  flows: string[];
  errors: PackageProblem[];
  loadedAt: string | null;
}

const BASE = PATHS.packages;

export default function Packages({ rest }: ScreenProps) {
  const [name] = segments(rest);
  return name ? <PackagePage name={name} /> : <PackageList />;
}

type Outcome = { name: string; ok: boolean; text: string; errors?: PackageProblem[] };

/** Reloads a package; a 422 (package_invalid) is a result to show, not a failure of the button. */
async function reload(name: string): Promise<Outcome> {
  try {
    const state = await api.post<Package>(`/admin/api/packages/${seg(name)}/reload`);
    return {
      name,
      ok: true,
      text: `Package ${name} reloaded: ${state.services.length} service${state.services.length === 1 ? "" : "s"} loaded.`,
    };
  } catch (error) {
    if (error instanceof ApiError && error.code === "package_invalid") {
      const state = error.body?.package as Package | undefined;
      return { name, ok: false, text: `Reload of ${name}: ${error.message}.`, errors: state?.errors ?? [] };
    }
    return { name, ok: false, text: `Reload of ${name} failed: ${problemOf(error).message}` };
  }
}

function State(props: { pkg: Package }) {
  const { pkg } = props;
  if (pkg.errors.length === 0) return <span class="badge ok">Loaded</span>;
  return (
    <span class="badge bad">{pkg.loaded ? "Errors (last good version serving)" : "Not loaded: errors"}</span>
  );
}

function ReloadButton(props: { name: string; onDone: (outcome: Outcome) => Promise<void> | void }) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class="secondary"
      aria-label={`Reload package ${props.name}`}
      disabled={busy}
      aria-busy={busy}
      onClick={async () => {
        setBusy(true);
        try {
          await props.onDone(await reload(props.name));
        } finally {
          setBusy(false);
        }
      }}
    >
      {busy ? "Reloading…" : "Reload"}
    </button>
  );
}

function OutcomeNotice(props: { outcome: Outcome | undefined }) {
  const { outcome } = props;
  if (!outcome) return null;
  return (
    <div role="status">
      <p class={`notice ${outcome.ok ? "ok" : "warn"}`}>{outcome.text}</p>
      {outcome.errors && outcome.errors.length > 0 ? <Problems errors={outcome.errors} /> : null}
    </div>
  );
}

function Problems(props: { errors: PackageProblem[] }) {
  return (
    <ul class="problems">
      {props.errors.map((e, i) => (
        <li key={i}>
          <code>{e.file}</code>
          {e.path ? (
            <>
              {" "}
              at <code>{e.path}</code>
            </>
          ) : null}
          : {e.message}
        </li>
      ))}
    </ul>
  );
}

function PackageList() {
  const packages = useResource<Package[]>("/admin/api/packages");
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const broken = (packages.data ?? []).filter((p) => p.errors.length > 0);
  const done = async (result: Outcome) => {
    setOutcome(result);
    await packages.reload();
  };
  return (
    <Page title="Package Management">
      <p class="muted">
        Packages are folders of the server's packages directory. Conduit reloads a package when its files
        change; Reload does it now and shows the result.
      </p>
      <OutcomeNotice outcome={outcome} />
      <Loading problem={packages.problem} loading={packages.loading}>
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Packages</caption>
            <thead>
              <tr>
                <th scope="col">Package</th>
                <th scope="col">Version</th>
                <th scope="col">State</th>
                <th scope="col">Services</th>
                <th scope="col">Loaded at</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {(packages.data ?? []).map((pkg) => (
                <tr key={pkg.name}>
                  <th scope="row">
                    <Link href={`${BASE}/${seg(pkg.name)}`}>{pkg.name}</Link>
                    {pkg.description ? <div class="muted">{pkg.description}</div> : null}
                  </th>
                  <td>{pkg.version}</td>
                  <td>
                    <State pkg={pkg} />
                  </td>
                  <td>{pkg.services.length}</td>
                  <td class="nowrap">{when(pkg.loadedAt)}</td>
                  <td>
                    <ReloadButton name={pkg.name} onDone={done} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {packages.data && packages.data.length === 0 ? <p>No packages yet.</p> : null}
        {broken.map((pkg) => (
          <section key={pkg.name} class="panel" aria-labelledby={`errors-${pkg.name}`}>
            <h2 id={`errors-${pkg.name}`}>Errors of package {pkg.name}</h2>
            <Problems errors={pkg.errors} />
          </section>
        ))}
      </Loading>
    </Page>
  );
}

function PackagePage(props: { name: string }) {
  const pkg = useResource<Package>(`/admin/api/packages/${seg(props.name)}`);
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const p = pkg.data;
  return (
    <Page
      title={`Package ${props.name}`}
      actions={
        p ? (
          <ReloadButton
            name={p.name}
            onDone={async (result) => {
              setOutcome(result);
              await pkg.reload();
            }}
          />
        ) : null
      }
    >
      <BackLink href={BASE}>Package Management</BackLink>
      <OutcomeNotice outcome={outcome} />
      <Loading problem={pkg.problem} loading={pkg.loading}>
        {p ? (
          <>
            <dl class="facts">
              <dt>State</dt>
              <dd>
                <State pkg={p} />
              </dd>
              <dt>Version</dt>
              <dd>{p.version}</dd>
              <dt>Description</dt>
              <dd>{p.description || "—"}</dd>
              <dt>Requires</dt>
              <dd>{words(p.requires)}</dd>
              <dt>Loaded at</dt>
              <dd>{when(p.loadedAt)}</dd>
            </dl>
            {p.errors.length > 0 ? (
              <section class="panel" aria-labelledby="errors">
                <h2 id="errors">Errors of package {p.name}</h2>
                <Problems errors={p.errors} />
              </section>
            ) : null}
            <h2>Services</h2>
            {p.services.length === 0 ? (
              <p>None.</p>
            ) : (
              <ul class="list">
                {p.services.map((s) => (
                  <li key={s}>
                    <Link href={`/admin/services/${s}`}>{s}</Link>
                    {p.flows.includes(s) ? (
                      <>
                        {" "}
                        (flow:{" "}
                        <Link href={`/admin/flows/${s}`} aria-label={`Flow ${s}`}>
                          steps
                        </Link>
                        )
                      </>
                    ) : null}
                  </li>
                ))}
              </ul>
            )}
          </>
        ) : null}
      </Loading>
    </Page>
  );
}
