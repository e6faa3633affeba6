// The Synapse 1.163.2 oracle fixtures, shared by the JS tests.
import { readFileSync } from "node:fs";

const url = new URL("../fixtures/synapse-1.163.2/scenarios.json", import.meta.url);

/** The 16 scenarios, each with the room state and the stripped state Synapse sent. */
export const scenarios = JSON.parse(readFileSync(url, "utf8")).scenarios;

/** The scenario called `name`. */
export function scenario(name) {
  const found = scenarios.find((s) => s.name === name);
  if (!found) throw new Error(`no scenario ${name}`);
  return found;
}

/** The invite or knock event of a scenario: the target user's member event in its state. */
export function membershipEventOf(scenario) {
  const event = scenario.state.find(
    (e) => e.type === "m.room.member" && e.state_key === scenario.target_user,
  );
  if (!event) throw new Error(`${scenario.name}: no m.room.member event for ${scenario.target_user}`);
  return event;
}
