import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/** The dependency rules of src/: HTTP is a surface on top, and the subsystems never reach up into it. */
const SRC = join(process.cwd(), "src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Every module a file imports at run time (type-only imports left out), as written. */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      const typeOnly =
        clause?.isTypeOnly ||
        (clause && !clause.name && clause.namedBindings && ts.isNamedImports(clause.namedBindings)
          ? clause.namedBindings.elements.every((e) => e.isTypeOnly)
          : false);
      if (!typeOnly) found.push((statement.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier && !statement.isTypeOnly) {
      found.push((statement.moduleSpecifier as ts.StringLiteral).text);
    }
  }
  return found;
}

const files = sources(SRC).map((file) => ({
  file,
  path: relative(SRC, file),
  imports: runtimeImports(file),
}));

describe("architecture of src/", () => {
  it("only src/http imports Fastify", () => {
    const offenders = files
      .filter((f) => !f.path.startsWith("http/"))
      .filter((f) => f.imports.some((i) => i === "fastify" || i.startsWith("@fastify/")))
      .map((f) => f.path);
    expect(offenders).toEqual([]);
  });

  it("nothing outside src/http (and main.ts, which starts it) imports from src/http", () => {
    const offenders = files
      .filter((f) => !f.path.startsWith("http/") && f.path !== "main.ts")
      .filter((f) => f.imports.some((i) => /(^|\/)http\//.test(i)))
      .map((f) => f.path);
    expect(offenders).toEqual([]);
  });

  it("has no import cycle at run time", () => {
    const graph = new Map<string, string[]>();
    for (const f of files)
      graph.set(
        f.file,
        f.imports
          .filter((i) => i.startsWith("."))
          .map((i) => join(f.file, "..", i.replace(/\.js$/, ".ts")))
          .filter((target) => files.some((g) => g.file === target)),
      );
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (node: string) => {
      state.set(node, "open");
      stack.push(node);
      for (const next of graph.get(node) ?? []) {
        if (state.get(next) === "open")
          cycles.push([...stack.slice(stack.indexOf(next)), next].map((n) => relative(SRC, n)).join(" → "));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(node, "done");
    };
    for (const node of graph.keys()) if (!state.has(node)) visit(node);
    expect(cycles).toEqual([]);
  });
});
