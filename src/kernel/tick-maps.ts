import { executionAsyncResource } from "node:async_hooks";

/**
 * Keeps Node's `process.nextTick` on its fast path for the life of the server (issue 10).
 *
 * Every `process.nextTick` builds a tick object with a literal that has computed (symbol) keys
 * (`{ [async_id_symbol]: …, [trigger_async_id_symbol]: …, callback, args }`, node:internal/process/task_queues).
 * V8 keeps the object's hidden classes (maps) alive only weakly, through transitions and inline caches.
 * A full garbage collection at a moment when no tick object is alive frees them. The next tick object then
 * gets new maps, and V8 11 (Node 20) turns the literal's property-definition feedback megamorphic for
 * good. From then on every nextTick, several per HTTP request inside Node's streams, goes through the
 * runtime (`Runtime_DefineKeyedOwnPropertyInLiteral`, `JSObject::MigrateToMap`).
 *
 * Measured on the benchmark's processes: a Conduit whose nextTick feedback had gone megamorphic (most of
 * them, as start-up runs full collections) spent about 5 µs more CPU per /health request (about 20 against
 * 15 µs), a quarter of its throughput. Whether a process was hit depended on when its collections ran.
 *
 * Holding one tick object for the process's lifetime holds its maps (a map holds its parent map), so they
 * are never freed and the feedback stays monomorphic. It costs one small object. This must run before the
 * rest of the server loads: main.ts imports this module first. The queued tick is itself alive until it
 * runs, so the maps are held from this moment on.
 */
let pinned: object | undefined;

process.nextTick(() => {
  // Inside a nextTick callback, the execution resource is the tick object itself.
  pinned = executionAsyncResource();
});

/** Objects held for the life of the process so that their hidden classes are never freed. */
const held: object[] = [];

/**
 * Holds these objects, and so their hidden classes, for the life of the process (see above). The HTTP
 * front holds the first request and response it sees: perf showed the same loss on Node's
 * `OutgoingMessage`, whose constructor then went through the runtime for every response (about a fifth
 * of the throughput of /invoke, in the processes where it happened).
 */
export function holdForever(...objects: object[]): void {
  held.push(...objects);
}

/** The tick object held (for the test that proves it is one). */
export function pinnedTickObject(): object | undefined {
  return pinned;
}
