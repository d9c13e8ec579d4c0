// First of all, before anything else loads (see the module).
import "../kernel/tick-maps.js";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../config/index.js";
import { backupSqlite } from "./backup.js";
import { finishRotation, rotateKey } from "./key-rotate.js";
import { generateServerKey } from "../config/keys.js";
import { writeDevCertificate } from "./dev-certificate.js";

const HELP = `conduit: the Conduit integration server

Usage:
  conduit start                              start the server (configuration from the environment, see README)
  conduit invoke <folder.sub:service> [--input '{"name": "value"}']
                                             run a service on a running server, print the output as JSON
  conduit user add <username> [--new-password <pw> | --password-stdin] [--group <group>]...
  conduit user list
  conduit user delete <username>
  conduit backup <file>                      online backup of the embedded SQLite database (and the server
                                             key next to it, <file>.secret.key); PostgreSQL: pg_dump
  conduit cert dev [--force]                 write a self-signed development certificate for localhost
                                             into <data dir>/tls and print the variables that serve HTTPS
  conduit key generate                       print a fresh 32-byte server key (base64)
  conduit key rotate [--finish [--force]]    with CONDUIT_SECRET_KEY=new and CONDUIT_SECRET_KEY_PREVIOUS=old
                                             (and the server's database settings): re-seal every secret
                                             under the new key; --finish retires the old key once no
                                             client secret needs it (--force: those clients need new ones)
  conduit --help | conduit <command> --help

Options for the commands that talk to a running server:
  --url <url>          server base URL (env CONDUIT_URL, default http://localhost:$CONDUIT_PORT or :5555)
  --user <name>        user to authenticate as (env CONDUIT_USER, default Administrator)
  --password <pw>      that user's password (env CONDUIT_PASSWORD)

Exit status: 0 on success, 1 when the server answered an error, 2 on a usage error.
`;

class UsageError extends Error {}

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  env: Record<string, string | undefined>;
  stdin: () => string;
}

const defaultIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  stdin: () => readFileSync(0, "utf8"),
};

/** Runs the CLI; answers the exit status. */
export async function run(argv: string[], io: Io = defaultIo): Promise<number> {
  try {
    const [command, ...rest] = argv;
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      io.out(HELP);
      return command === undefined ? 2 : 0;
    }
    switch (command) {
      case "start":
        if (rest.includes("--help")) return help(io);
        await import("../main.js");
        return 0;
      case "invoke":
        return await invoke(rest, io);
      case "user":
        return await user(rest, io);
      case "cert":
        return await cert(rest, io);
      case "backup":
        return await backup(rest, io);
      case "key":
        return await key(rest, io);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`conduit: ${(error as Error).message}\nRun "conduit --help" for usage.\n`);
      return 2;
    }
    io.err(`conduit: ${(error as Error).message}\n`);
    return 1;
  }
}

function help(io: Io): number {
  io.out(HELP);
  return 0;
}

const CONNECTION = {
  url: { type: "string" },
  user: { type: "string" },
  password: { type: "string" },
  help: { type: "boolean" },
} as const;

function connection(values: { url?: string; user?: string; password?: string }, env: Io["env"]) {
  const local =
    env.CONDUIT_PORT?.trim().toLowerCase() === "off"
      ? `https://localhost:${env.CONDUIT_HTTPS_PORT || "5543"}`
      : `http://localhost:${env.CONDUIT_PORT || "5555"}`;
  const url = (values.url ?? env.CONDUIT_URL ?? local).replace(/\/$/, "");
  const user = values.user ?? env.CONDUIT_USER ?? "Administrator";
  const password = values.password ?? env.CONDUIT_PASSWORD;
  const headers: Record<string, string> = {};
  if (password !== undefined)
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  return { url, headers };
}

async function call(
  io: Io,
  url: string,
  init: { method?: string; headers: Record<string, string>; body?: unknown },
): Promise<{ ok: boolean; status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? "GET",
      headers:
        init.body === undefined ? init.headers : { ...init.headers, "content-type": "application/json" },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new Error(
      `cannot reach ${new URL(url).origin}: ${(error as Error).cause ?? (error as Error).message}`,
    );
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  if (!res.ok) {
    const message = (body as { message?: string } | null)?.message ?? text;
    io.err(
      `conduit: ${res.status} ${(body as { error?: string } | null)?.error ?? ""} ${message}\n`.replace(
        / +/g,
        " ",
      ),
    );
  }
  return { ok: res.ok, status: res.status, body };
}

async function invoke(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...CONNECTION, input: { type: "string", short: "i" } },
    allowPositionals: true,
  });
  if (values.help) return help(io);
  const [service] = positionals;
  if (!service || positionals.length > 1) throw new UsageError("invoke needs exactly one service name");
  if (!/^[\w.-]+:[\w-]+$/.test(service))
    throw new UsageError(`"${service}" is not a service name (folder.sub:service)`);
  let input: unknown = {};
  if (values.input !== undefined) {
    try {
      input = JSON.parse(values.input);
    } catch {
      throw new UsageError("--input must be a JSON object");
    }
    if (input === null || typeof input !== "object" || Array.isArray(input))
      throw new UsageError("--input must be a JSON object");
  }
  const { url, headers } = connection(values, io.env);
  const [folder, name] = service.split(":") as [string, string];
  const result = await call(io, `${url}/invoke/${folder}/${name}`, { method: "POST", headers, body: input });
  if (result.ok) io.out(JSON.stringify(result.body, null, 2) + "\n");
  return result.ok ? 0 : 1;
}

async function user(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      ...CONNECTION,
      "new-password": { type: "string" },
      "password-stdin": { type: "boolean" },
      group: { type: "string", multiple: true, short: "g" },
    },
    allowPositionals: true,
  });
  if (values.help) return help(io);
  const { url, headers } = connection(values, io.env);
  switch (sub) {
    case "add": {
      const [username] = positionals;
      if (!username || positionals.length > 1) throw new UsageError("user add needs exactly one username");
      const password = values["password-stdin"] ? io.stdin().replace(/\r?\n$/, "") : values["new-password"];
      if (!password)
        throw new UsageError("give the new user's password with --new-password <pw> or --password-stdin");
      const result = await call(io, `${url}/admin/api/users`, {
        method: "POST",
        headers,
        body: { username, password, groups: values.group ?? [] },
      });
      if (result.ok) io.out(`created user ${username}\n`);
      return result.ok ? 0 : 1;
    }
    case "list": {
      const result = await call(io, `${url}/admin/api/users`, { headers });
      if (result.ok)
        for (const u of result.body as { username: string; groups: string[] }[])
          io.out(`${u.username}\t${u.groups.join(",")}\n`);
      return result.ok ? 0 : 1;
    }
    case "delete": {
      const [username] = positionals;
      if (!username || positionals.length > 1) throw new UsageError("user delete needs exactly one username");
      const result = await call(io, `${url}/admin/api/users/${encodeURIComponent(username)}`, {
        method: "DELETE",
        headers,
      });
      if (result.ok) io.out(`deleted user ${username}\n`);
      return result.ok ? 0 : 1;
    }
    default:
      throw new UsageError(`unknown user command "${sub ?? ""}" (add, list, delete)`);
  }
}

/** `conduit cert dev`: a self-signed certificate for trying HTTPS locally (src/cli/dev-certificate.ts). */
async function cert(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { force: { type: "boolean" }, help: { type: "boolean" } },
    allowPositionals: true,
  });
  if (values.help) return help(io);
  if (sub !== "dev" || positionals.length > 0)
    throw new UsageError(`unknown cert command "${sub ?? ""}" (dev)`);
  const dataDir = resolve(io.env.CONDUIT_DATA_DIR || "./data");
  const written = await writeDevCertificate(dataDir, { force: values.force === true });
  const [certFile, keyFile] = [shellQuote(written.cert), shellQuote(written.key)];
  const port = io.env.CONDUIT_HTTPS_PORT || "5543";
  const lines = [
    `Wrote a self-signed development certificate for localhost, 127.0.0.1 and ::1 (valid until ${written.validTo.toISOString().slice(0, 10)}):`,
    `  ${written.cert}`,
    `  ${written.key}  (its private key, mode 0600)`,
    "",
    `Set these two variables to serve HTTPS on port ${port} as well as HTTP:`,
    "",
    `  export CONDUIT_TLS_CERT=${certFile}`,
    `  export CONDUIT_TLS_KEY=${keyFile}`,
    "",
    "then start Conduit and try it:",
    "",
    "  npm start",
    `  curl --cacert ${certFile} https://localhost:${port}/health`,
    "",
    "For development only: no client trusts it unless told to (curl --cacert). Never use it in production.",
  ];
  io.out(lines.join("\n") + "\n");
  return 0;
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

async function backup(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { help: { type: "boolean" } },
    allowPositionals: true,
  });
  if (values.help) return help(io);
  if (positionals.length !== 1) throw new UsageError("backup needs one argument: the file to write");
  const result = await backupSqlite(loadConfig(io.env), positionals[0]!);
  io.out(
    [
      `Wrote ${result.database}`,
      result.key
        ? `and the server key to ${result.key} (mode 0600): keep the two together, the key opens the sealed secrets`
        : "The server key is CONDUIT_SECRET_KEY: a restore needs the same value.",
      "To restore: a fresh data dir with the backup as conduit.sqlite" +
        (result.key ? " and the key as secret.key." : "."),
      "",
    ].join("\n"),
  );
  return 0;
}

async function key(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { finish: { type: "boolean" }, force: { type: "boolean" }, help: { type: "boolean" } },
    allowPositionals: true,
  });
  if (values.help) return help(io);
  const [sub, ...extra] = positionals;
  if (extra.length > 0 || (sub !== "generate" && sub !== "rotate"))
    throw new UsageError(`unknown key command "${positionals.join(" ")}" (generate, rotate)`);
  if (sub === "generate") {
    if (values.finish || values.force) throw new UsageError("key generate takes no options");
    io.out(`${generateServerKey()}\n`);
    return 0;
  }
  if (values.force && !values.finish) throw new UsageError("--force goes with --finish");
  const config = loadConfig(io.env);
  return values.finish
    ? await finishRotation(config, io, { force: values.force === true })
    : await rotateKey(config, io);
}
