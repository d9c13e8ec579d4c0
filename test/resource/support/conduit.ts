import { readFile } from "node:fs/promises";
import { expect } from "vitest";
import { logFile } from "../../../src/kernel/logger.js";
import type { TestServer } from "../../support/server.js";

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** JSON request to the running server with the Administrator's credentials. */
export async function admin(
  server: TestServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: server.adminAuth,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as never) : {},
  };
}

export async function createUser(server: TestServer, username: string): Promise<void> {
  const answer = await admin(server, "POST", "/admin/api/users", {
    username,
    password: "a-long-password-1",
    groups: [],
  });
  expect(answer.status).toBe(201);
}

/** GET /invoke/<service> with a bearer token. */
export async function invokeWith(
  token: string,
  server: TestServer,
  service = "pub.math/randomDouble",
): Promise<Answer> {
  const response = await fetch(`${server.url}/invoke/${service}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as never) : {},
  };
}

/**
 * Selects the authorization server by writing the global settings directly, as the settings use-case does
 * (store, then publish the change). Used by the failure tests only; the end-to-end test uses the admin API.
 */
export async function selectDirectly(server: TestServer, name: string): Promise<void> {
  const { conduit } = server;
  const current = (await conduit.repos.settings.get<Record<string, unknown>>("oauth")) ?? {};
  await conduit.repos.settings.put("oauth", { ...current, authorizationServer: name }, conduit.clock.now());
  conduit.changes.publish({ kind: "settings", key: "oauth" });
}

/** An in-memory scope catalog (for the failure tests; the end-to-end test uses Scope Management). */
export function memoryScopes(server: TestServer, scopes: Record<string, string[]>): void {
  const list = Object.entries(scopes).map(([name, values]) => ({ name, values }));
  server.conduit.resource.scopes = {
    get: async (name) => list.find((s) => s.name === name),
    list: async () => list,
  };
}

/** The server's log records (the test logger writes synchronously to the server log file). */
export async function logRecords(server: TestServer): Promise<Record<string, unknown>[]> {
  return (await logText(server))
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export function logText(server: TestServer): Promise<string> {
  return readFile(logFile(server.dataDir), "utf8");
}
