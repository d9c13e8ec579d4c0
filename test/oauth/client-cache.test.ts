import pino from "pino";
import { describe, expect, it } from "vitest";
import { ClientDirectory } from "../../src/oauth/clients.js";
import { ChangeFeed } from "../../src/storage/change-feed.js";

function gate<T>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

describe("the OAuth client cache and a concurrent disable", () => {
  it("does not keep a client read before a change published during the read", async () => {
    const changes = new ChangeFeed(pino({ level: "silent" }));
    let enabled = true;
    const held = gate<void>();
    let hold = true;
    const repository = {
      get: async () => {
        const snapshot = { clientId: "c1", enabled };
        if (hold) await held.promise;
        return snapshot;
      },
    };
    const clients = new ClientDirectory(repository as never, changes);
    const stale = clients.get("c1");
    enabled = false;
    changes.publish({ kind: "client", key: "c1" });
    held.open();
    expect((await stale)?.enabled).toBe(true);
    hold = false;
    expect((await clients.get("c1"))?.enabled).toBe(false);
  });
});
