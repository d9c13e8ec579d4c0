import { createContext, type ComponentChildren, type JSX } from "preact";
import { useCallback, useContext, useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError, api } from "./api.js";

/**
 * The console's building blocks. Every input has a <label>, every button an accessible name, errors of
 * the API appear in words next to the field the API names (or at the top of the form), never as JSON.
 */

export type Problem = { message: string; field?: string | undefined };

export function problemOf(error: unknown): Problem {
  if (error instanceof ApiError) return { message: error.message, field: error.field };
  return { message: error instanceof Error ? error.message : String(error) };
}

/** The error of the form a field is in, so that a Field can show the part that names it. */
const FormProblem = createContext<{ problem: Problem | undefined; fields: Set<string> }>({
  problem: undefined,
  fields: new Set(),
});

/**
 * A form whose submit runs `onSubmit`, with a busy state on its button and the API's error shown next to
 * the field it names (a Field with that `name`), else above the buttons.
 */
export function Form(props: {
  onSubmit: () => Promise<void> | void;
  submitLabel: string;
  busyLabel?: string;
  children: ComponentChildren;
  extraButtons?: ComponentChildren;
  "aria-label"?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | undefined>(undefined);
  const fields = useRef(new Set<string>()).current;
  const shownAtField = problem?.field !== undefined && fields.has(problem.field);
  return (
    <form
      aria-label={props["aria-label"]}
      noValidate
      onSubmit={async (event) => {
        event.preventDefault();
        if (busy) return;
        setBusy(true);
        setProblem(undefined);
        try {
          await props.onSubmit();
        } catch (error) {
          setProblem(problemOf(error));
        } finally {
          setBusy(false);
        }
      }}
    >
      <FormProblem.Provider value={{ problem, fields }}>{props.children}</FormProblem.Provider>
      {problem && !shownAtField ? (
        <p class="error" role="alert">
          {problem.message}
        </p>
      ) : null}
      <div class="buttons">
        <button type="submit" disabled={busy} aria-busy={busy}>
          {busy ? (props.busyLabel ?? `${props.submitLabel}…`) : props.submitLabel}
        </button>
        {props.extraButtons}
      </div>
    </form>
  );
}

/** A labelled control; `name` is the API's field name, so its errors land here. */
export function Field(props: {
  label: string;
  name: string;
  hint?: string;
  children: (ids: { id: string; describedBy: string | undefined; invalid: boolean }) => JSX.Element;
}) {
  const id = useId();
  const { problem, fields } = useContext(FormProblem);
  fields.add(props.name);
  const error = problem?.field === props.name ? problem.message : undefined;
  const hintId = props.hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <div class={error ? "field invalid" : "field"}>
      <label for={id}>{props.label}</label>
      {props.children({ id, describedBy, invalid: Boolean(error) })}
      {props.hint ? (
        <p class="hint" id={hintId}>
          {props.hint}
        </p>
      ) : null}
      {error ? (
        <p class="error" id={errorId} role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}

export function TextField(props: {
  label: string;
  name: string;
  value: string;
  onInput: (value: string) => void;
  type?: "text" | "password" | "number" | "url" | "search";
  hint?: string;
  required?: boolean;
  autoComplete?: string;
  placeholder?: string;
  readOnly?: boolean;
}) {
  return (
    <Field label={props.label} name={props.name} hint={props.hint}>
      {({ id, describedBy, invalid }) => (
        <input
          id={id}
          name={props.name}
          type={(props.type ?? "text") as "text"}
          value={props.value}
          required={props.required}
          readOnly={props.readOnly}
          placeholder={props.placeholder}
          autoComplete={props.autoComplete ?? "off"}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          onInput={(event) => props.onInput((event.target as HTMLInputElement).value)}
        />
      )}
    </Field>
  );
}

export function TextArea(props: {
  label: string;
  name: string;
  value: string;
  onInput: (value: string) => void;
  hint?: string;
  rows?: number;
  spellcheck?: boolean;
}) {
  return (
    <Field label={props.label} name={props.name} hint={props.hint}>
      {({ id, describedBy, invalid }) => (
        <textarea
          id={id}
          name={props.name}
          rows={props.rows ?? 4}
          spellcheck={props.spellcheck ?? false}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          value={props.value}
          onInput={(event) => props.onInput((event.target as HTMLTextAreaElement).value)}
        />
      )}
    </Field>
  );
}

export function SelectField(props: {
  label: string;
  name: string;
  value: string;
  options: { value: string; label?: string }[];
  onChange: (value: string) => void;
  hint?: string;
}) {
  return (
    <Field label={props.label} name={props.name} hint={props.hint}>
      {({ id, describedBy, invalid }) => (
        <select
          id={id}
          name={props.name}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          value={props.value}
          onChange={(event) => props.onChange((event.target as HTMLSelectElement).value)}
        >
          {props.options.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label ?? option.value}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function CheckboxField(props: {
  label: string;
  name: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  hint?: string;
}) {
  const id = useId();
  const { problem, fields } = useContext(FormProblem);
  fields.add(props.name);
  const error = problem?.field === props.name ? problem.message : undefined;
  return (
    <div class={error ? "field checkbox invalid" : "field checkbox"}>
      <input
        id={id}
        type="checkbox"
        name={props.name}
        checked={props.checked}
        aria-invalid={Boolean(error)}
        onChange={(event) => props.onChange((event.target as HTMLInputElement).checked)}
      />
      <label for={id}>{props.label}</label>
      {props.hint ? <p class="hint">{props.hint}</p> : null}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** Loads a GET of the admin API; `reload()` after a write. */
export function useResource<T>(path: string | undefined): {
  data: T | undefined;
  problem: Problem | undefined;
  loading: boolean;
  reload: () => Promise<void>;
} {
  const [data, setData] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<Problem | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const reload = useCallback(async () => {
    if (!path) return;
    setLoading(true);
    try {
      setData(await api.get<T>(path));
      setProblem(undefined);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setLoading(false);
    }
  }, [path]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, problem, loading, reload };
}

/** What a screen shows while its data loads, or why it cannot. */
export function Loading(props: {
  problem: Problem | undefined;
  loading: boolean;
  children?: ComponentChildren;
}) {
  if (props.problem)
    return (
      <p class="error" role="alert">
        {props.problem.message}
      </p>
    );
  if (props.loading && !props.children) return <p aria-busy="true">Loading…</p>;
  return <>{props.children}</>;
}

/** A button that runs an action, shows that it is busy, and reports an error next to itself. */
export function ActionButton(props: {
  label: string;
  busyLabel?: string;
  onClick: () => Promise<void> | void;
  confirm?: string;
  class?: string;
  "aria-label"?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | undefined>(undefined);
  return (
    <span class="action">
      <button
        type="button"
        class={props.class}
        aria-label={props["aria-label"]}
        disabled={busy}
        aria-busy={busy}
        onClick={async () => {
          if (props.confirm && !window.confirm(props.confirm)) return;
          setBusy(true);
          setProblem(undefined);
          try {
            await props.onClick();
          } catch (error) {
            setProblem(problemOf(error));
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? (props.busyLabel ?? `${props.label}…`) : props.label}
      </button>
      {problem ? (
        <span class="error" role="alert">
          {problem.message}
        </span>
      ) : null}
    </span>
  );
}

/** A message about what just happened (screen readers announce it). */
export function Notice(props: { children: ComponentChildren; kind?: "ok" | "warn" }) {
  return (
    <p class={`notice ${props.kind ?? "ok"}`} role="status">
      {props.children}
    </p>
  );
}

/** A secret shown this once, with a copy button. */
export function SecretOnce(props: { label: string; value: string }) {
  const id = useId();
  const [copied, setCopied] = useState(false);
  return (
    <div class="secret-once" role="region" aria-label={props.label}>
      <label for={id}>{props.label}</label>
      <div class="secret-row">
        <input
          id={id}
          readOnly
          value={props.value}
          onFocus={(e) => (e.target as HTMLInputElement).select()}
        />
        <button
          type="button"
          onClick={async () => {
            await navigator.clipboard?.writeText(props.value).catch(() => undefined);
            setCopied(true);
          }}
        >
          {copied ? "Copied" : `Copy ${props.label.toLowerCase()}`}
        </button>
      </div>
      <p class="hint">Shown this once: Conduit keeps only a digest of it.</p>
    </div>
  );
}

/** The heading of a screen, with its actions. */
export function Page(props: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · Conduit`;
  }, [props.title]);
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title" tabIndex={-1}>
          {props.title}
        </h1>
        {props.actions ? <div class="page-actions">{props.actions}</div> : null}
      </header>
      {props.children}
    </section>
  );
}

/** Comma- or newline-separated text ↔ a list. */
export const listOf = (text: string) =>
  text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
export const textOf = (list: readonly string[] | undefined) => (list ?? []).join("\n");

/** Dates as the admin API gives them (ISO text or epoch seconds) in the reader's locale. */
export function when(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === "") return "—";
  const date = typeof value === "number" ? new Date(value < 1e12 ? value * 1000 : value) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

/**
 * Several choices of a list (groups of a user, of an ACL…): a fieldset named by its legend, one labelled
 * checkbox per option; `name` is the API's field, so its errors land here.
 */
export function CheckboxGroup(props: {
  legend: string;
  name: string;
  options: { value: string; label?: string }[];
  selected: readonly string[];
  onChange: (selected: string[]) => void;
  hint?: string;
}) {
  const id = useId();
  const { problem, fields } = useContext(FormProblem);
  fields.add(props.name);
  const error = problem?.field === props.name ? problem.message : undefined;
  const describedBy =
    [props.hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  const chosen = new Set(props.selected);
  return (
    <fieldset class={error ? "choices invalid" : "choices"} aria-describedby={describedBy}>
      <legend>{props.legend}</legend>
      {props.options.length === 0 ? <p class="hint">Nothing to choose from yet.</p> : null}
      {props.options.map((option) => (
        <label key={option.value} class="choice">
          <input
            type="checkbox"
            name={props.name}
            value={option.value}
            checked={chosen.has(option.value)}
            onChange={(event) => {
              const next = new Set(chosen);
              if ((event.target as HTMLInputElement).checked) next.add(option.value);
              else next.delete(option.value);
              props.onChange(props.options.map((o) => o.value).filter((v) => next.has(v)));
            }}
          />
          {option.label ?? option.value}
        </label>
      ))}
      {props.hint ? (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {error ? (
        <p class="error" id={`${id}-error`} role="alert">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}
