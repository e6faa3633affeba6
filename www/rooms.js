// A room as a row of the room list (and as the header of the room panel), from a RoomPreview:
// avatar or placeholder, the sanitised name, where the name and avatar came from, the inviter,
// the knock reason, the topic, and badges (space, encrypted, DM, join rule, room version).

import { authenticatedThumbnail, legacyThumbnailUrl } from "./matrix.js";
import { badge, errorInfo, h, untrusted } from "./dom.js";

/** Number of placeholder colours; `placeholder.colorIndex` is in 0..PLACEHOLDER_COLOURS-1. */
const PLACEHOLDER_COLOURS = 8;

const NAME_SOURCE_LABELS = {
  name: "room name",
  alias: "canonical alias",
  inviter: "inviter",
  heroes: "members",
  empty: "fallback",
};
const AVATAR_SOURCE_LABELS = {
  room: "room avatar",
  inviter: "inviter",
  none: "placeholder",
};

function colourIndex(placeholder) {
  const index = placeholder?.colorIndex;
  return Number.isInteger(index) && index >= 0 && index < PLACEHOLDER_COLOURS ? index : 0;
}

/**
 * The avatar of a preview: an image over the placeholder, which stays if the image fails.
 * `media` says where images come from: `{ session }` (authenticated media of the connected
 * account), `{ homeserver }` (a homeserver's unauthenticated thumbnails), or null (none).
 */
export function renderAvatar(preview, media, size = 48) {
  const index = colourIndex(preview.placeholder);
  const initial = typeof preview.placeholder?.initial === "string" && preview.placeholder.initial !== ""
    ? preview.placeholder.initial
    : "?";
  const placeholder = h("span", {
    className: `placeholder ph-${index}`,
    testid: "room-placeholder",
    text: initial,
    data: { colorIndex: index },
  });
  const avatar = h("span", {
    className: "avatar",
    testid: "room-avatar",
    data: { state: "placeholder" },
    attrs: { "aria-hidden": "true", style: `--size: ${size}px` },
  }, placeholder);

  if (typeof preview.avatarUrl !== "string" || media === null) return avatar;
  const img = h("img", { testid: "room-avatar-image", attrs: { alt: "", width: size, height: size } });
  img.decoding = "async";
  img.referrerPolicy = "no-referrer";
  img.addEventListener("load", () => { avatar.dataset.state = "image"; });
  img.addEventListener("error", () => {
    img.remove();
    avatar.dataset.state = "placeholder";
  });
  if (media.session) {
    avatar.dataset.state = "loading";
    authenticatedThumbnail(media.session, preview.avatarUrl).then(
      (src) => { img.src = src; avatar.append(img); },
      (error) => {
        // A missing avatar is no failure of the room: the placeholder stays, and says why.
        avatar.dataset.state = "placeholder";
        avatar.title = `avatar not loaded: ${errorInfo(error).code}`;
      },
    );
  } else if (media.homeserver) {
    const src = legacyThumbnailUrl(media.homeserver, preview.avatarUrl);
    if (src === null) return avatar;
    avatar.dataset.state = "loading";
    img.loading = "lazy";
    img.src = src;
    avatar.append(img);
  }
  return avatar;
}

function sourceLabel(prefix, value, labels, testid) {
  const known = Object.hasOwn(labels, value);
  return h("span", { className: "source", testid, data: { source: value ?? "" } },
    h("span", { className: "source-key", text: `${prefix} from` }), " ",
    known ? labels[value] : String(value ?? "?"));
}

function renderInviter(inviter) {
  const line = h("p", { className: "meta inviter", testid: "room-inviter" }, "Invited by ");
  const name = inviter.displayName ?? null;
  if (name !== null && name !== "") {
    line.append(untrusted(name, { testid: "inviter-name" }), " ");
    line.append(h("span", { className: "mxid" }, "(", untrusted(inviter.userId), ")"));
  } else {
    line.append(untrusted(inviter.userId, { testid: "inviter-name" }));
  }
  return line;
}

function renderWarnings(warnings) {
  const list = h("ul", { className: "warning-list" });
  for (const warning of warnings) {
    const where = [warning.type, warning.stateKey].filter((part) => part !== undefined && part !== null);
    list.append(h("li", {},
      h("code", { text: String(warning.code) }),
      where.length ? " " : "",
      where.length ? untrusted(`(${where.join(", ")})`) : ""));
  }
  return h("details", { className: "warnings", testid: "room-warnings", data: { count: warnings.length } },
    h("summary", { text: `${warnings.length} warning${warnings.length === 1 ? "" : "s"}` }),
    list);
}

export function roomBadges(preview) {
  const badges = h("span", { className: "badges" });
  if (preview.roomType === "m.space") badges.append(badge("Space", "badge-space", "space"));
  if (preview.encrypted === true) badges.append(badge("Encrypted", "badge-encrypted", "encrypted"));
  if (preview.isDirect === true) badges.append(badge("DM", "badge-direct", "direct"));
  if (preview.membership === "leave") badges.append(badge("Left", "badge-left", "muted"));
  if (preview.joinRule) badges.append(badge(`join: ${preview.joinRule}`, "badge-join-rule", "muted"));
  if (preview.roomVersion) badges.append(badge(`v${preview.roomVersion}`, "badge-room-version", "muted"));
  return badges;
}

/**
 * The text lines of a preview: name with badges, name and avatar sources, inviter, knock reason,
 * when (unless `showWhen` is false), topic, alias and room id, warnings. `nameTag` is the
 * element the name is in.
 */
export function roomBody(preview, { nameTag = "bdi", showWhen = true } = {}) {
  const name = h(nameTag, { className: "room-name", testid: "room-name", text: preview.displayName ?? "" });
  if (nameTag === "bdi") name.setAttribute("dir", "auto");
  const title = h("div", { className: "room-title" }, name, roomBadges(preview));
  const sources = h("div", { className: "sources" },
    sourceLabel("name", preview.displayNameSource, NAME_SOURCE_LABELS, "name-source"),
    sourceLabel("avatar", preview.avatarSource, AVATAR_SOURCE_LABELS, "avatar-source"));

  const body = h("div", { className: "room-body" }, title, sources);
  if (preview.inviter) body.append(renderInviter(preview.inviter));
  if (typeof preview.knockReason === "string" && preview.knockReason !== "") {
    body.append(h("p", { className: "meta knock-reason" },
      "Knock reason: ", untrusted(preview.knockReason, { testid: "knock-reason" })));
  }
  if (showWhen && Number.isSafeInteger(preview.membershipTs) && preview.membershipTs > 0) {
    const when = new Date(preview.membershipTs);
    const verb = { knock: "Knocked", invite: "Invited", join: "Joined", leave: "Left" }[preview.membership] ?? "Membership";
    body.append(h("p", {
      className: "meta when",
      testid: "membership-ts",
      text: `${verb} ${when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}`,
    }));
  }
  if (typeof preview.topic === "string" && preview.topic !== "") {
    body.append(h("p", { className: "topic", testid: "room-topic", text: preview.topic }));
  }
  const ids = h("p", { className: "ids" });
  if (preview.canonicalAlias) {
    ids.append(untrusted(preview.canonicalAlias, { className: "alias", testid: "room-alias" }), " · ");
  }
  ids.append(untrusted(preview.roomId, { className: "room-id", testid: "room-id" }));
  body.append(ids);
  if (Array.isArray(preview.warnings) && preview.warnings.length > 0) {
    body.append(renderWarnings(preview.warnings));
  }
  return body;
}

/**
 * One row of a room list. `onOpen` (optional) is called when the row is clicked outside its
 * buttons, or its name (a button) is used; `actions` are extra nodes (buttons, errors) below.
 */
export function renderRoom(preview, { media = null, onOpen, selected = false, actions = [] } = {}) {
  // In a list, when a room was joined or left says little; when an invite came, much.
  const showWhen = preview.membership === "invite" || preview.membership === "knock";
  const body = roomBody(preview, { nameTag: onOpen ? "button" : "bdi", showWhen });
  if (onOpen) {
    const name = body.querySelector('[data-testid="room-name"]');
    name.type = "button";
    name.className = "room-name link";
    name.setAttribute("dir", "auto");
    name.title = "Open this room";
  }
  if (actions.length > 0) body.append(h("div", { className: "room-actions" }, actions));
  const row = h("li", {
    className: `room${selected ? " selected" : ""}`,
    testid: "room",
    data: {
      roomId: preview.roomId,
      membership: preview.membership,
      kind: preview.membership,
      nameSource: preview.displayNameSource,
      avatarSource: preview.avatarSource,
    },
  }, renderAvatar(preview, media), body);
  if (selected) row.setAttribute("aria-current", "true");
  if (onOpen) {
    row.addEventListener("click", (event) => {
      const button = event.target.closest("button, a, summary, input, select, textarea");
      if (button && !button.classList.contains("room-name")) return;
      onOpen(preview.roomId);
    });
  }
  return row;
}
