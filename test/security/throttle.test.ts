import { describe, expect, it } from "vitest";
import { LoginThrottle } from "../../src/security/throttle.js";
import { decodeBasic } from "../../src/security/basic.js";
import { parseAuthorization } from "../../src/security/authentication.js";

describe("LoginThrottle", () => {
  it("lets the first failures through, then doubles the delay per failure up to the cap", () => {
    const throttle = new LoginThrottle({ freeAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 });
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      delays.push(throttle.delayMs("ada", "10.0.0.1"));
      throttle.recordFailure("ada", "10.0.0.1");
    }
    expect(delays).toEqual([0, 0, 0, 100, 200, 400, 800, 1000]);
  });

  it("counts per user and per address, and a success clears the user's count only", () => {
    const throttle = new LoginThrottle({ freeAttempts: 2, addressFreeAttempts: 2, baseDelayMs: 50 });
    for (const user of ["a", "b", "c"]) throttle.recordFailure(user, "10.0.0.9");
    // One address guessing many users is slowed down even for a user it has not tried yet.
    expect(throttle.delayMs("new-user", "10.0.0.9")).toBe(100); // 3 failures: 50 × 2^(3-2)
    expect(throttle.delayMs("new-user", "10.0.0.10")).toBe(0);
    throttle.recordFailure("d", "1.1.1.1");
    throttle.recordFailure("d", "2.2.2.2");
    expect(throttle.delayMs("d", "3.3.3.3")).toBe(50);
    throttle.recordSuccess("d");
    expect(throttle.delayMs("d", "3.3.3.3")).toBe(0);
  });
});

describe("Authorization header parsing", () => {
  it("splits scheme and credentials case-insensitively (RFC 9110 §11.1)", () => {
    expect(parseAuthorization("BASIC abc=")).toEqual({ scheme: "basic", value: "abc=" });
    expect(parseAuthorization("Bearer  tok")).toEqual({ scheme: "bearer", value: "tok" });
    expect(parseAuthorization("Bearer")).toBeUndefined();
    expect(parseAuthorization(undefined)).toBeUndefined();
  });

  it("decodes Basic credentials, allowing colons in the password only (RFC 7617 §2)", () => {
    const encode = (s: string) => Buffer.from(s).toString("base64");
    expect(decodeBasic(encode("ada:pa:ss"))).toEqual({ username: "ada", password: "pa:ss" });
    expect(decodeBasic(encode("ada:"))).toEqual({ username: "ada", password: "" });
    expect(decodeBasic(encode(":pw"))).toBeUndefined();
    expect(decodeBasic(encode("nocolon"))).toBeUndefined();
    expect(decodeBasic("***")).toBeUndefined();
  });
});

describe("LoginThrottle turns", () => {
  it("runs a few checks at a time per user; the others wait their turn, and a full queue is refused", async () => {
    const throttle = new LoginThrottle({ maxConcurrent: 2, maxQueued: 3 });
    const first = await throttle.acquire("ada", "10.0.0.1");
    const second = await throttle.acquire("ada", "10.0.0.2");
    expect(first).toBeTypeOf("function");
    expect(second).toBeTypeOf("function");
    let thirdTurn = false;
    const third = throttle.acquire("ada", "10.0.0.3").then((release) => {
      thirdTurn = true;
      return release;
    });
    const waiting = [throttle.acquire("ada", "10.0.0.4"), throttle.acquire("ada", "10.0.0.5")];
    expect(await throttle.acquire("ada", "10.0.0.6")).toBeUndefined(); // queue of 3 is full
    await new Promise((r) => setTimeout(r, 10));
    expect(thirdTurn).toBe(false);
    first!();
    (await third)!();
    expect(thirdTurn).toBe(true);
    second!();
    for (const release of await Promise.all(waiting)) release!();
    // Another user is not held up by ada's queue.
    const bob = await throttle.acquire("bob", "10.0.0.1");
    expect(bob).toBeTypeOf("function");
    bob!();
  });

  it("delays by failures only, never by attempts merely in progress", async () => {
    const throttle = new LoginThrottle({ freeAttempts: 2, baseDelayMs: 100 });
    const turns = await Promise.all(Array.from({ length: 4 }, () => throttle.acquire("ada", "10.0.0.1")));
    expect(throttle.delayMs("ada", "10.0.0.1")).toBe(0);
    for (const release of turns) release!();
    for (let i = 0; i < 3; i++) throttle.recordFailure("ada", "10.0.0.1");
    expect(throttle.delayMs("ada", "10.0.0.1")).toBe(200);
  });
});

describe("LoginThrottle defaults for shared addresses", () => {
  it("lets an address fail more often than a user before slowing it, and caps its delay lower", () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < 10; i++) throttle.recordFailure(`guess-${i}`, "10.1.1.1");
    // Ten failures of ten different people behind one proxy: a new person is not slowed down.
    expect(throttle.delayMs("newcomer", "10.1.1.1")).toBe(0);
    for (let i = 0; i < 40; i++) throttle.recordFailure(`guess-${i}`, "10.1.1.1");
    expect(throttle.delayMs("newcomer", "10.1.1.1")).toBe(2_000);
    // One user guessed at: slowed after five, up to ten seconds, from any address.
    for (let i = 0; i < 30; i++) throttle.recordFailure("ada", `10.2.0.${i}`);
    expect(throttle.delayMs("ada", "10.9.9.9")).toBe(10_000);
  });
});
