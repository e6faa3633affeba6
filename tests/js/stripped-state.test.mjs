// computeStrippedState from the built package reproduces what Synapse 1.163.2 sent, event for
// event and in the same order, for every recorded scenario.
import assert from "node:assert/strict";
import { test } from "node:test";

import init, { computeStrippedState } from "../../pkg/node.js";
import { membershipEventOf, scenarios } from "./fixtures.mjs";

await init();

test("the fixtures hold the 16 recorded scenarios", () => {
  assert.equal(scenarios.length, 16);
});

for (const scenario of scenarios) {
  test(`${scenario.name}: stripped state equals Synapse's`, () => {
    const stripped = computeStrippedState(scenario.state, {
      kind: scenario.kind,
      membershipEvent: membershipEventOf(scenario),
    });
    assert.ok(Array.isArray(stripped), `${scenario.name}: result is not an array`);
    assert.deepEqual(
      stripped.map((e) => [e.type, e.state_key]),
      scenario.synapse_stripped.map((e) => [e.type, e.state_key]),
      `${scenario.name}: events or their order differ from Synapse's`,
    );
    assert.deepEqual(stripped, scenario.synapse_stripped, `${scenario.name}: events differ from Synapse's`);
  });
}
