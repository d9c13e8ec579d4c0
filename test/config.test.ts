import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config/index.js";

describe("configuration from the environment", () => {
  it("has the documented defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 5555,
      host: "0.0.0.0",
      publicUrl: "http://localhost:5555",
      databaseUrl: undefined,
      adminPassword: undefined,
      bodyLimit: 1024 * 1024,
    });
    expect(config.dataDir).toMatch(/\/data$/);
    expect(config.packagesDir).toMatch(/\/packages$/);
  });

  it("reads every variable", () => {
    const config = loadConfig({
      CONDUIT_PORT: "8080",
      CONDUIT_HOST: "127.0.0.1",
      CONDUIT_DATA_DIR: "/tmp/x",
      CONDUIT_PUBLIC_URL: "https://conduit.example.com/",
      CONDUIT_ADMIN_PASSWORD: "long-enough",
      DATABASE_URL: "postgres://u@h:5432/db",
      CONDUIT_PACKAGES_DIR: "/tmp/p",
      CONDUIT_BODY_LIMIT: "2048",
      CONDUIT_SHUTDOWN_TIMEOUT: "5",
    });
    expect(config).toMatchObject({
      port: 8080,
      host: "127.0.0.1",
      dataDir: "/tmp/x",
      publicUrl: "https://conduit.example.com",
      adminPassword: "long-enough",
      databaseUrl: "postgres://u@h:5432/db",
      packagesDir: "/tmp/p",
      bodyLimit: 2048,
      shutdownTimeoutSeconds: 5,
    });
  });

  it.each([
    ["CONDUIT_PORT", "80a"],
    ["CONDUIT_PORT", "70000"],
    ["CONDUIT_PUBLIC_URL", "not a url"],
    ["CONDUIT_PUBLIC_URL", "http://x/?q=1"],
    ["DATABASE_URL", "sqlite://file"],
    ["CONDUIT_BODY_LIMIT", "-5"],
    ["CONDUIT_LOG_LEVEL", "loud"],
    ["CONDUIT_ADMIN_PASSWORD", "short"],
    ["CONDUIT_SHUTDOWN_TIMEOUT", "0"],
  ])("refuses %s=%s with an error naming it", (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
    expect((error as Error).message).toContain(name);
  });
});
