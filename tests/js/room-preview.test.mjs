// roomPreview from the built package, on stripped state exactly as Synapse sent it.
import assert from "node:assert/strict";
import { test } from "node:test";

import init, { roomPreview } from "../../pkg/node.js";
import { scenario } from "./fixtures.mjs";

await init();

test("an unnamed DM invite is named and pictured after the inviter", () => {
  const dm = scenario("unnamed_dm_falls_back_to_inviter");
  const preview = roomPreview(dm.synapse_stripped, { roomId: dm.room_id, ownUserId: dm.target_user });
  const message = `${dm.name}: ${JSON.stringify(preview)}`;
  assert.equal(preview.roomId, dm.room_id, message);
  assert.equal(preview.displayName, "Alice Liddell", message);
  assert.equal(preview.displayNameSource, "inviter", message);
  assert.equal(preview.avatarUrl, "mxc://localhost/alice-avatar", message);
  assert.equal(preview.avatarSource, "inviter", message);
});
