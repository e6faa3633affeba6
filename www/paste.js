// The paste panel: previews any stripped state pasted as JSON with roomPreview, showing the
// preview as a room row and as JSON, or the library's error code.

import { $, displayJson, errorInfo } from "./dom.js";
import { renderRoom } from "./rooms.js";

/** Code shown when the pasted text is not JSON at all (the library never sees it). */
const INVALID_JSON = "INVALID_JSON";

const EXAMPLE = {
  roomId: "!example:matrix.example.org",
  ownUserId: "@bob:matrix.example.org",
  kind: "invite",
  events: [
    { type: "m.room.create", state_key: "", sender: "@alice:matrix.example.org", content: { room_version: "12" } },
    { type: "m.room.join_rules", state_key: "", sender: "@alice:matrix.example.org", content: { join_rule: "invite" } },
    { type: "m.room.name", state_key: "", sender: "@alice:matrix.example.org", content: { name: "Invoice \u202Efdp.exe\u202C" } },
    { type: "m.room.topic", state_key: "", sender: "@alice:matrix.example.org", content: { topic: "The name above hides a right-to-left override." } },
    { type: "m.room.encryption", state_key: "", sender: "@alice:matrix.example.org", content: { algorithm: "m.megolm.v1.aes-sha2" } },
    {
      type: "m.room.member", state_key: "@alice:matrix.example.org", sender: "@alice:matrix.example.org",
      content: { membership: "join", displayname: "Alice" },
    },
    {
      type: "m.room.member", state_key: "@bob:matrix.example.org", sender: "@alice:matrix.example.org",
      content: { membership: "invite", displayname: "Bob" },
    },
  ],
};

export class PastePanel {
  /** `lib`: the loaded package; `media()`: where avatars come from now (see renderAvatar). */
  constructor(lib, media) {
    this.lib = lib;
    this.media = media;
    /** The last preview: { opts, result: { preview } | { error } }, or null. */
    this.last = null;
    $("paste-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.run();
    });
    $("paste-example").addEventListener("click", () => {
      this.fill(EXAMPLE);
      this.run();
    });
    this.fill(EXAMPLE);
  }

  /** Puts stripped state into the form (and scrolls to it when `show`). */
  fill({ events, roomId, ownUserId, kind }, show = false) {
    $("paste-input").value = displayJson(events);
    $("paste-room-id").value = roomId;
    $("paste-user-id").value = ownUserId;
    $("paste-kind").value = kind;
    if (show) $("paste-panel").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  run() {
    const opts = {
      roomId: $("paste-room-id").value.trim(),
      ownUserId: $("paste-user-id").value.trim(),
      kind: $("paste-kind").value,
    };
    let events;
    try {
      events = JSON.parse($("paste-input").value);
    } catch (error) {
      const invalid = new Error(`not JSON: ${error.message}`);
      invalid.code = INVALID_JSON;
      this.last = { opts, result: { error: invalid } };
      this.render();
      return;
    }
    // Anything that parses goes to the library as is: a non-array is its error to report.
    try {
      this.last = { opts, result: { preview: this.lib.roomPreview(events, opts) } };
    } catch (error) {
      this.last = { opts, result: { error } };
    }
    this.render();
  }

  render() {
    const errorBox = $("paste-error");
    const list = $("paste-result");
    const json = $("paste-json");
    list.replaceChildren();
    errorBox.hidden = true;
    json.hidden = true;
    if (this.last === null) return;
    const { result } = this.last;
    if ("error" in result) {
      const { code, message } = errorInfo(result.error);
      $("paste-error-code").textContent = code;
      $("paste-error-message").textContent = message;
      errorBox.hidden = false;
      return;
    }
    list.append(renderRoom(result.preview, { media: this.media() }));
    json.textContent = displayJson(result.preview);
    json.hidden = false;
  }
}
