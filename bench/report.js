// Tables of a benchmark run's results (the JSON run.js writes to bench/results/): the summary printed at the
// end of every run, and the change between two runs (npm run bench -- --compare old.json [new.json]).

const DATABASE_NAMES = { sqlite: "SQLite", postgres: "PostgreSQL" };
/** Scaling is flat when throughput and p99 at the largest size stay within this of the smallest size's. */
export const FLAT_TOLERANCE = 0.2;

/** A plain text table: the first row is the header; columns after the first are right-aligned. */
export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i] ?? "").length)));
  const line = (row) =>
    row
      .map((cell, i) =>
        i === 0 ? String(cell ?? "").padEnd(widths[i]) : String(cell ?? "").padStart(widths[i]),
      )
      .join("  ");
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

const databasesOf = (results) => [...new Set(results.comparisons.map((c) => c.database))];
const labelOf = (c) => c.label ?? c.name;
const mb = (kb) => (kb === undefined ? "" : `${(kb / 1024).toFixed(0)} MB`);
const fixed = (x, digits = 2) => (x === undefined || Number.isNaN(x) ? "" : x.toFixed(digits));
export const sizeName = (n) => {
  const exponent = Math.log10(n);
  return Number.isInteger(exponent) ? `10^${exponent}` : String(n);
};

/** Every ratio of the run, one column per database, with the goal and the spread of the rounds. */
export function ratioTable(results) {
  const databases = databasesOf(results);
  const names = [...new Set(results.comparisons.map(labelOf))];
  const rows = [["measurement", "goal", ...databases.map((d) => DATABASE_NAMES[d] ?? d)]];
  for (const name of names) {
    const found = results.comparisons.filter((c) => labelOf(c) === name);
    const goal = found.find((c) => c.goal)?.goal;
    const cells = databases.map((database) => {
      const c = found.find((x) => x.database === database);
      if (!c) return "";
      const rounds = c.perRoundRatios ?? [];
      const spread =
        rounds.length > 1 ? ` (${fixed(Math.min(...rounds))}–${fixed(Math.max(...rounds))})` : "";
      const verdict = goal === undefined ? "" : c.ratio >= goal ? " ok" : " BELOW";
      const warn = [c.subject.best, c.reference.best].some((m) => m.errors || m.non2xx) ? " !errors" : "";
      return `${fixed(c.ratio)}${spread}${verdict}${warn}`;
    });
    rows.push([name, goal === undefined ? "" : `≥ ${goal}`, ...cells]);
  }
  return table(rows);
}

/** Resident memory of Conduit after each scenario, one column per database. */
export function memoryTable(results) {
  const databases = [...new Set(results.memory.map((m) => m.database))];
  const scenarios = [...new Set(results.memory.map((m) => m.scenario))];
  const rows = [["Conduit RSS after", ...databases.map((d) => `${DATABASE_NAMES[d] ?? d} (peak)`)]];
  for (const scenario of scenarios)
    rows.push([
      scenario,
      ...databases.map((database) => {
        const m = results.memory.filter((x) => x.scenario === scenario && x.database === database).at(-1);
        return m ? `${mb(m.rssKb)} (${mb(m.hwmKb)})` : "";
      }),
    ]);
  return table(rows);
}

/** The scaling scenario: req/s and p99 per store size and target, and whether each curve is flat. */
export function scalingTable(results) {
  const targets = [...new Set(results.scaling.map((s) => s.target))];
  const databases = [...new Set(results.scaling.map((s) => s.database))];
  const rows = [["database", "tokens", ...targets.flatMap((t) => [`${t} req/s`, "p99 ms"]), "Conduit RSS"]];
  for (const database of databases) {
    const mine = results.scaling.filter((s) => s.database === database);
    for (const size of [...new Set(mine.map((s) => s.size))].sort((a, b) => a - b)) {
      const at = mine.filter((s) => s.size === size);
      rows.push([
        DATABASE_NAMES[database] ?? database,
        sizeName(size),
        ...targets.flatMap((t) => {
          const s = at.find((x) => x.target === t);
          return s
            ? [`${fixed(s.rps, 0)}${s.errors || s.non2xx ? " !errors" : ""}`, fixed(s.p99, 1)]
            : ["", ""];
        }),
        mb(at.find((x) => x.conduitMemory)?.conduitMemory.rssKb),
      ]);
    }
  }
  return table(rows);
}

/** Per database and target: largest size vs smallest, rps and p99, flat or not. */
export function flatness(results) {
  const lines = [];
  for (const database of [...new Set(results.scaling.map((s) => s.database))])
    for (const target of [...new Set(results.scaling.map((s) => s.target))]) {
      const points = results.scaling
        .filter((s) => s.database === database && s.target === target)
        .sort((a, b) => a.size - b.size);
      if (points.length < 2) continue;
      const [first, last] = [points[0], points.at(-1)];
      const rps = last.rps / first.rps;
      // p99 is reported in whole ms at small latencies: a 1 ms step is within the measurement's resolution.
      const p99 = Math.abs(last.p99 - first.p99) <= 1 ? 1 : last.p99 / first.p99;
      const within = (x) => Math.abs(x - 1) <= FLAT_TOLERANCE;
      const flat = within(rps) && within(p99);
      const verdict = flat
        ? "flat"
        : rps < 1 - FLAT_TOLERANCE || p99 > 1 + FLAT_TOLERANCE
          ? "NOT flat (slower)"
          : "NOT flat (faster: noise?)";
      lines.push(
        `${DATABASE_NAMES[database] ?? database} ${target}: ${sizeName(first.size)} → ${sizeName(last.size)} req/s ×${fixed(rps)}, p99 ${first.p99} → ${last.p99} ms: ${verdict} (flat = both within ${FLAT_TOLERANCE * 100}%)`,
      );
    }
  return lines.join("\n");
}

/** p99 of bearer /invoke while a sweep of expired rows runs, against the same load without one. */
export function sweepTable(results) {
  const rows = [
    ["database", "expired rows", "sweep took", "p99 without", "p99 during", "max without", "max during"],
  ];
  for (const s of results.sweep)
    rows.push([
      DATABASE_NAMES[s.database] ?? s.database,
      String(s.removed ?? s.expiredRows),
      `${fixed(s.sweepMs, 0)} ms`,
      `${s.without.p99} ms`,
      `${s.with.p99} ms`,
      `${s.without.max} ms`,
      `${s.with.max} ms`,
    ]);
  return table(rows);
}

/** The whole summary printed at the end of a run; the goal ratios of issue 10 last, on their own. */
export function summary(results) {
  const parts = [];
  const section = (...lines) => parts.push(...(parts.length > 0 ? [""] : []), ...lines);
  if (results.memory.length > 0) section(memoryTable(results));
  if (results.scaling.length > 0)
    section(
      "Scaling (distinct tokens drawn at random per request):",
      scalingTable(results),
      flatness(results),
    );
  if (results.sweep.length > 0)
    section("Bearer /invoke during a sweep of expired tokens:", sweepTable(results));
  if (results.comparisons.length > 0) {
    section(
      `All ratios (best of ${results.rounds} rounds; per-round range in parentheses):`,
      ratioTable(results),
    );
    const goals = { ...results, comparisons: results.comparisons.filter((c) => c.goal !== undefined) };
    if (goals.comparisons.length > 0) section("Goals (issue 10):", ratioTable(goals));
  }
  return parts.join("\n");
}

const change = (before, after) =>
  before && after !== undefined
    ? `${after >= before ? "+" : ""}${((after / before - 1) * 100).toFixed(1)}%`
    : "";

/** Each measurement of `after` next to the same one in `before`: ratio (and scaling req/s, p99, memory) old → new. */
export function comparison(before, after) {
  const rows = [["measurement", "database", "old", "new", "change"]];
  const key = (x) => `${x.database}\u0000${x.name}`;
  const old = new Map(before.comparisons.map((c) => [key(c), c]));
  for (const c of after.comparisons) {
    const o = old.get(key(c));
    rows.push([labelOf(c), c.database, fixed(o?.ratio), fixed(c.ratio), change(o?.ratio, c.ratio)]);
  }
  for (const c of before.comparisons)
    if (!after.comparisons.some((x) => key(x) === key(c)))
      rows.push([labelOf(c), c.database, fixed(c.ratio), "(not run)", ""]);
  for (const s of after.scaling ?? []) {
    const o = (before.scaling ?? []).find(
      (x) => x.database === s.database && x.target === s.target && x.size === s.size,
    );
    rows.push([
      `scaling ${s.target} ${sizeName(s.size)} req/s`,
      s.database,
      fixed(o?.rps, 0),
      fixed(s.rps, 0),
      change(o?.rps, s.rps),
    ]);
    rows.push([
      `scaling ${s.target} ${sizeName(s.size)} p99 ms`,
      s.database,
      fixed(o?.p99, 1),
      fixed(s.p99, 1),
      change(o?.p99, s.p99),
    ]);
  }
  for (const m of after.memory ?? []) {
    const o = (before.memory ?? [])
      .filter((x) => x.database === m.database && x.scenario === m.scenario)
      .at(-1);
    rows.push([`RSS after ${m.scenario}`, m.database, mb(o?.rssKb), mb(m.rssKb), change(o?.rssKb, m.rssKb)]);
  }
  const header = `Compared with ${before.date} (commit ${before.commit?.slice(0, 12) ?? "?"}) → ${after.date} (commit ${after.commit?.slice(0, 12) ?? "?"}); ratios are Conduit / reference, higher is better; for p99 and RSS lower is better:`;
  return `${header}\n${table(rows)}`;
}
