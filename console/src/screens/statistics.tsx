import { useCallback, useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import type { ScreenProps } from "../routes.js";
import { useInterval } from "../screen-kit.js";
import { Page, problemOf, when, type Problem } from "../ui.js";

/**
 * Server > Statistics: what /metrics counts, from GET /admin/api/statistics, refreshed every 10 s while the
 * screen is open, with a chart of requests and introspection calls over the last minutes (an SVG drawn
 * here, with a table for screen readers).
 */

interface Statistics {
  startedAt: string;
  uptimeSeconds: number;
  requests: { total: number; byStatus: Record<string, number> };
  introspection: { calls: number; failures: number; cacheHits: number; cacheMisses: number };
  /** One entry per 10 s, oldest first, up to 15 minutes. */
  history: { at: string; requests: number; introspectionCalls: number }[];
}

const REFRESH_MS = 10_000;
const REQUESTS_COLOUR = "#0b5cad";
const INTROSPECTION_COLOUR = "#c25400";

function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [d ? `${d} d` : "", h ? `${h} h` : "", m ? `${m} min` : "", `${s % 60} s`].filter(Boolean);
  return parts.slice(0, 3).join(" ");
}

const number = (n: number) => n.toLocaleString();

export default function StatisticsScreen(_props: ScreenProps) {
  const [stats, setStats] = useState<Statistics | undefined>(undefined);
  const [problem, setProblem] = useState<Problem | undefined>(undefined);
  const [at, setAt] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const refresh = useCallback(async () => {
    setBusy(true);
    try {
      setStats(await api.get<Statistics>("/admin/api/statistics"));
      setProblem(undefined);
      setAt(new Date().toLocaleTimeString());
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }, []);
  useEffect(() => void refresh(), [refresh]);
  useInterval(() => void refresh(), REFRESH_MS);

  const byStatus = stats
    ? Object.entries(stats.requests.byStatus).sort(([a], [b]) => a.localeCompare(b))
    : [];
  const lookups = stats ? stats.introspection.cacheHits + stats.introspection.cacheMisses : 0;
  return (
    <Page
      title="Statistics"
      actions={
        <button
          type="button"
          class="secondary"
          onClick={() => void refresh()}
          disabled={busy}
          aria-busy={busy}
        >
          {busy ? "Refreshing…" : "Refresh now"}
        </button>
      }
    >
      <p class="muted" aria-live="polite">
        {at ? `Updated at ${at}; refreshed every 10 seconds while this page is open.` : "Loading…"}
      </p>
      {problem ? (
        <p class="error" role="alert">
          {problem.message}
        </p>
      ) : null}
      {stats ? (
        <>
          <dl class="numbers">
            <div class="number">
              <dt>Requests</dt>
              <dd>{number(stats.requests.total)}</dd>
            </div>
            <div class="number">
              <dt>Up for</dt>
              <dd>{duration(stats.uptimeSeconds)}</dd>
            </div>
            <div class="number">
              <dt>Introspection calls</dt>
              <dd>{number(stats.introspection.calls)}</dd>
            </div>
            <div class="number">
              <dt>Introspection failures</dt>
              <dd>{number(stats.introspection.failures)}</dd>
            </div>
            <div class="number">
              <dt>Introspection cache hits</dt>
              <dd>
                {number(stats.introspection.cacheHits)}
                {lookups > 0 ? (
                  <span class="muted">
                    {" "}
                    ({Math.round((100 * stats.introspection.cacheHits) / lookups)} %)
                  </span>
                ) : null}
              </dd>
            </div>
            <div class="number">
              <dt>Introspection cache misses</dt>
              <dd>{number(stats.introspection.cacheMisses)}</dd>
            </div>
          </dl>
          <p class="muted">Started at {when(stats.startedAt)}.</p>
          <Chart history={stats.history} />
          <div class="table-wrap narrow">
            <table>
              <caption>Requests by status</caption>
              <thead>
                <tr>
                  <th scope="col">Status</th>
                  <th scope="col">Requests</th>
                </tr>
              </thead>
              <tbody>
                {byStatus.length === 0 ? (
                  <tr>
                    <td colSpan={2}>None yet.</td>
                  </tr>
                ) : (
                  byStatus.map(([status, count]) => (
                    <tr key={status}>
                      <th scope="row">{status}</th>
                      <td>{number(count)}</td>
                    </tr>
                  ))
                )}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
    </Page>
  );
}

const W = 560;
const H = 220;
const PAD = { left: 48, right: 12, top: 14, bottom: 30 };

/** Requests and introspection calls per 10 s (colours as .swatch in screens.css; the page's CSP allows no
 * style attributes), as two polylines; the same numbers in a hidden table. */
function Chart(props: { history: Statistics["history"] }) {
  const points = props.history;
  const seconds = points.length * 10;
  const minutes = Math.round(seconds / 60);
  const caption = `Requests and introspection calls per 10 seconds over the last ${
    seconds >= 120 ? `${minutes} minutes` : `${seconds} seconds`
  }`;
  if (points.length === 0)
    return (
      <figure class="chart">
        <figcaption>{caption}: no data yet.</figcaption>
      </figure>
    );
  const max = Math.max(1, ...points.map((p) => Math.max(p.requests, p.introspectionCalls)));
  const top = niceCeiling(max);
  const x = (i: number) =>
    PAD.left + (points.length === 1 ? 0 : (i * (W - PAD.left - PAD.right)) / (points.length - 1));
  const y = (v: number) => PAD.top + (1 - v / top) * (H - PAD.top - PAD.bottom);
  const line = (pick: (p: Statistics["history"][number]) => number) =>
    points.map((p, i) => `${x(i).toFixed(1)},${y(pick(p)).toFixed(1)}`).join(" ");
  const time = (iso: string | undefined) =>
    iso
      ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
      : "";
  const totalRequests = points.reduce((n, p) => n + p.requests, 0);
  const totalIntrospection = points.reduce((n, p) => n + p.introspectionCalls, 0);
  const peak = Math.max(...points.map((p) => p.requests));
  return (
    <figure class="chart" aria-labelledby="chart-caption">
      <figcaption id="chart-caption">
        {caption}: {number(totalRequests)} requests (at most {number(peak)} in 10 seconds) and{" "}
        {number(totalIntrospection)} introspection calls.
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-caption" focusable="false">
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(top * f)} y2={y(top * f)} stroke="#d5d9e0" />
            <text x={PAD.left - 6} y={y(top * f) + 4} text-anchor="end" font-size="13" fill="#5a6270">
              {number(Math.round(top * f))}
            </text>
          </g>
        ))}
        <text x={PAD.left} y={H - 8} font-size="13" fill="#5a6270">
          {time(points[0]?.at)}
        </text>
        <text x={W - PAD.right} y={H - 8} font-size="13" fill="#5a6270" text-anchor="end">
          {time(points[points.length - 1]?.at)}
        </text>
        <polyline points={line((p) => p.requests)} fill="none" stroke={REQUESTS_COLOUR} stroke-width="2" />
        <polyline
          points={line((p) => p.introspectionCalls)}
          fill="none"
          stroke={INTROSPECTION_COLOUR}
          stroke-width="2"
          stroke-dasharray="6 3"
        />
      </svg>
      <ul class="legend" aria-hidden="true">
        <li>
          <span class="swatch requests" />
          Requests
        </li>
        <li>
          <span class="swatch introspection" />
          Introspection calls (dashed)
        </li>
      </ul>
      <div class="visually-hidden">
        <table>
          <caption>{caption}</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Requests</th>
              <th scope="col">Introspection calls</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.at}>
                <th scope="row">{new Date(p.at).toLocaleTimeString()}</th>
                <td>{p.requests}</td>
                <td>{p.introspectionCalls}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}

/** A round number at or above `n` for the top of the axis: 1, 2, 5 × 10^k. */
function niceCeiling(n: number): number {
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (step * power >= n) return step * power;
  return 10 * power;
}
