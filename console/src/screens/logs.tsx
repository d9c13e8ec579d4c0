import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import type { ScreenProps } from "../routes.js";
import { useInterval } from "../screen-kit.js";
import { CheckboxField, Form, Page, SelectField, TextField, problemOf, type Problem } from "../ui.js";

/**
 * Server > Logs: the newest records of the server log (GET /admin/api/log), filtered by level and event,
 * readable (time, level, event, message, a few fields), with Follow polling every 2 s for new records.
 */

type LogRecord = Record<string, unknown> & {
  time?: number | string;
  level?: number;
  msg?: string;
  event?: string;
};

const LEVEL_NAMES: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};
const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];
/** Fields every record has, shown in their own columns or of no use to read. */
const SHOWN = new Set(["time", "level", "msg", "event", "pid", "hostname", "v"]);
const MAX_FIELDS = 8;
const MAX_RECORDS = 2000;
const FOLLOW_MS = 2000;

const keyOf = (r: LogRecord) => JSON.stringify(r);

function timeOf(value: unknown): string {
  if (typeof value !== "number" && typeof value !== "string") return "—";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
}

function fieldText(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

export default function Logs(_props: ScreenProps) {
  const [lines, setLines] = useState("200");
  const [level, setLevel] = useState("");
  const [event, setEvent] = useState("");
  const [applied, setApplied] = useState({ lines: "200", level: "", event: "" });
  const [records, setRecords] = useState<LogRecord[]>([]);
  const [problem, setProblem] = useState<Problem | undefined>(undefined);
  const [loaded, setLoaded] = useState(false);
  const [follow, setFollow] = useState(false);
  const [lastPoll, setLastPoll] = useState<string | undefined>(undefined);
  const [added, setAdded] = useState<number | undefined>(undefined);
  const seen = useRef(new Set<string>());

  const query = (f: typeof applied) => {
    const q = new URLSearchParams({ lines: f.lines || "200" });
    if (f.level) q.set("level", f.level);
    if (f.event.trim()) q.set("event", f.event.trim());
    return `/admin/api/log?${q}`;
  };

  /** Replaces the records (a new filter). Errors go to the field the API names. */
  const load = async (f: typeof applied) => {
    const { entries } = await api.get<{ entries: LogRecord[] }>(query(f));
    seen.current = new Set(entries.map(keyOf));
    setRecords(entries);
    setApplied(f);
    setLoaded(true);
    setAdded(undefined);
    setLastPoll(new Date().toLocaleTimeString());
  };

  useEffect(() => {
    load(applied).catch((error) => setProblem(problemOf(error)));
  }, []);

  /** Follow: appends the records not seen yet. */
  const poll = useCallback(async () => {
    try {
      const { entries } = await api.get<{ entries: LogRecord[] }>(query(applied));
      const fresh = entries.filter((r) => !seen.current.has(keyOf(r)));
      for (const r of fresh) seen.current.add(keyOf(r));
      if (fresh.length > 0) setRecords((old) => [...old, ...fresh].slice(-MAX_RECORDS));
      setAdded(fresh.length);
      setProblem(undefined);
      setLastPoll(new Date().toLocaleTimeString());
    } catch (error) {
      setProblem(problemOf(error));
    }
  }, [applied]);
  useInterval(() => void poll(), FOLLOW_MS, follow);

  const newestFirst = [...records].reverse();
  return (
    <Page title="Server Logs">
      <div class="panel">
        <Form
          aria-label="Log filters"
          submitLabel="Show"
          busyLabel="Loading…"
          onSubmit={async () => {
            setProblem(undefined);
            await load({ lines, level, event });
          }}
        >
          <div class="filters">
            <TextField
              label="Lines"
              name="lines"
              type="number"
              value={lines}
              onInput={setLines}
              hint="1 to 5000"
            />
            <SelectField
              label="Level (at least)"
              name="level"
              value={level}
              onChange={setLevel}
              options={[{ value: "", label: "all levels" }, ...LEVELS.map((l) => ({ value: l }))]}
            />
            <TextField
              label="Event"
              name="event"
              value={event}
              onInput={setEvent}
              placeholder="e.g. audit"
              hint="Only records of this event."
            />
          </div>
        </Form>
        <div class="wide-checkbox">
          <CheckboxField
            label="Follow (look for new records every 2 seconds)"
            name="follow"
            checked={follow}
            onChange={(checked) => {
              setFollow(checked);
              if (checked) void poll();
            }}
          />
        </div>
      </div>
      {problem ? (
        <p class="error" role="alert">
          {problem.message}
        </p>
      ) : null}
      <p role="status" class="muted">
        {loaded
          ? `${records.length} record${records.length === 1 ? "" : "s"}, newest first${
              follow ? `; following (last look ${lastPoll ?? "—"}${added ? `, ${added} new` : ""})` : ""
            }.`
          : "Loading…"}
      </p>
      <div class="table-wrap">
        <table class="log-table">
          <caption class="visually-hidden">Log records, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Level</th>
              <th scope="col">Event</th>
              <th scope="col">Message</th>
              <th scope="col">Fields</th>
            </tr>
          </thead>
          <tbody>
            {newestFirst.map((r) => {
              const levelName = LEVEL_NAMES[r.level ?? 0] ?? String(r.level ?? "");
              const extra = Object.entries(r).filter(([k]) => !SHOWN.has(k));
              return (
                <tr key={keyOf(r)}>
                  <td class="nowrap">{timeOf(r.time)}</td>
                  <td class={`level-${levelName}`}>{levelName}</td>
                  <td>{r.event ?? ""}</td>
                  <td>{typeof r.msg === "string" ? r.msg : ""}</td>
                  <td class="fields">
                    {extra.slice(0, MAX_FIELDS).map(([k, v]) => (
                      <span key={k}>
                        {k}={fieldText(v)}
                      </span>
                    ))}
                    {extra.length > MAX_FIELDS ? (
                      <span class="muted">…{extra.length - MAX_FIELDS} more</span>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </Page>
  );
}
