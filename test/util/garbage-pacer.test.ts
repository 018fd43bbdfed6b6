/** The garbage pacer: a full collection once the byte budget is spent, and only then. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { GarbagePacer } from "../../src/util/garbage-pacer.js";

/** A weak reference to an object nothing else holds (made in its own turn, so it may be collected after it). */
async function unreferenced(): Promise<WeakRef<object>> {
  const ref = new WeakRef({ payload: Buffer.alloc(1024) });
  await nextTurn();
  return ref;
}

test("GarbagePacer: collects once the bytes counted reach the budget", async () => {
  const pacer = new GarbagePacer(4096);
  const ref = await unreferenced();
  pacer.count(4000);
  pacer.count(96);
  await nextTurn();
  assert.equal(ref.deref(), undefined, "the unreferenced object was collected");
});

test("GarbagePacer: the count starts again after a collection", async () => {
  const pacer = new GarbagePacer(4096);
  pacer.count(4096);
  const ref = await unreferenced();
  pacer.count(4096);
  await nextTurn();
  assert.equal(ref.deref(), undefined);
  // A global --expose-gc is not left behind for the program's own context.
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, "undefined");
});
