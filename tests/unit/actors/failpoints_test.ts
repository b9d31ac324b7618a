import assert from "node:assert/strict";
import { exitingFailpoint, parseFailpoints } from "../../../actors/failpoints.ts";

Deno.test("failpoints: a comma list of names, none armed when unset", () => {
  assert.deepEqual([...parseFailpoints(undefined)], []);
  assert.deepEqual([...parseFailpoints("")], []);
  assert.deepEqual([...parseFailpoints(" after:addLearner , deletePeer:afterVolume,")], [
    "after:addLearner",
    "deletePeer:afterVolume",
  ]);
  // Production: nothing armed, nothing to call.
  assert.equal(exitingFailpoint(parseFailpoints(undefined), () => {}), undefined);
});

Deno.test("failpoints: a point that is not armed passes", () => {
  const fired: string[] = [];
  const failpoint = exitingFailpoint(new Set(["after:promote"]), (point) => fired.push(point));
  failpoint?.("after:addLearner");
  assert.deepEqual(fired, []);
});
