// A client's use of the package, type-checked in strict mode: tsc fails if the generated .d.ts
// loses a function, a field or a field's type (including a silent fall-back to `any`).
import init, {
  computeStrippedState,
  roomPreview,
  type Event,
  type Inviter,
  type PrejoinConfig,
  type PrejoinError,
  type PrejoinErrorCode,
  type PreviewWarning,
  type RoomPreview,
  type StrippedEvent,
} from "../../pkg/prejoin.js";

type IsAny<T> = 0 extends 1 & T ? true : false;
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): void {}

assertType<Equal<IsAny<ReturnType<typeof computeStrippedState>>, false>>();
assertType<Equal<IsAny<ReturnType<typeof roomPreview>>, false>>();
assertType<Equal<IsAny<Parameters<typeof computeStrippedState>[1]>, false>>();
assertType<Equal<IsAny<Parameters<typeof roomPreview>[1]>, false>>();
assertType<Equal<ReturnType<typeof computeStrippedState>, StrippedEvent[]>>();
assertType<Equal<ReturnType<typeof roomPreview>, RoomPreview>>();

await init();

const state: Event[] = [
  { type: "m.room.create", state_key: "", sender: "@alice:example.org", content: { room_version: "11" } },
  { type: "m.room.name", state_key: "", sender: "@alice:example.org", content: { name: "Tea party" } },
];
const invite: Event = {
  type: "m.room.member",
  state_key: "@bob:example.org",
  sender: "@alice:example.org",
  content: { membership: "invite" },
};
const config: PrejoinConfig = {
  disableDefaultEventTypes: false,
  additionalEventTypes: ["m.room.power_levels", ["org.example.tag", "x"]],
};

const stripped: StrippedEvent[] = computeStrippedState(state, {
  kind: "invite",
  membershipEvent: invite,
  membershipUserId: "@alice:example.org",
  config,
  fullCreateEvent: false,
});
const first: StrippedEvent | undefined = stripped[0];
if (first) {
  const type: string = first.type;
  const stateKey: string = first.state_key;
  const sender: string = first.sender;
  const content: Record<string, unknown> = first.content;
  console.log(type, stateKey, sender, content);
}
computeStrippedState(state, { kind: "knock", membershipEvent: invite });

// @ts-expect-error: the kind is "invite" or "knock"
computeStrippedState(state, { kind: "ban", membershipEvent: invite });
// @ts-expect-error: the membership event is required
computeStrippedState(state, { kind: "invite" });
// @ts-expect-error: roomId is required
roomPreview(stripped, { ownUserId: "@bob:example.org" });

const p: RoomPreview = roomPreview(stripped, {
  roomId: "!room:example.org",
  ownUserId: "@bob:example.org",
  kind: "invite",
});
roomPreview(stripped, { roomId: "!room:example.org", ownUserId: "@bob:example.org" });

const roomId: string = p.roomId;
const displayName: string = p.displayName;
const displayNameRaw: string = p.displayNameRaw;
const displayNameSource: "name" | "alias" | "inviter" | "heroes" | "empty" = p.displayNameSource;
const avatarUrl: string | null = p.avatarUrl;
const avatarSource: "room" | "inviter" | "none" = p.avatarSource;
const initial: string = p.placeholder.initial;
const colorIndex: number = p.placeholder.colorIndex;
const topic: string | null = p.topic;
const canonicalAlias: string | null = p.canonicalAlias;
const joinRule: string | null = p.joinRule;
const roomType: string | null = p.roomType;
const encrypted: boolean = p.encrypted;
const roomVersion: string | null = p.roomVersion;
const inviter: Inviter | null = p.inviter;
const knockReason: string | null = p.knockReason;
const isDirect: boolean = p.isDirect;
const membership: string | null = p.membership;
const warnings: PreviewWarning[] = p.warnings;
console.log(roomId, displayName, displayNameRaw, displayNameSource, avatarUrl, avatarSource, initial,
  colorIndex, topic, canonicalAlias, joinRule, roomType, encrypted, roomVersion, knockReason, isDirect,
  membership);

if (inviter) {
  const userId: string = inviter.userId;
  const inviterName: string | null = inviter.displayName;
  const inviterAvatar: string | null = inviter.avatarUrl;
  console.log(userId, inviterName, inviterAvatar);
}
for (const warning of warnings) {
  const code: string = warning.code;
  const type: string | null = warning.type;
  const stateKey: string | null = warning.stateKey;
  console.log(code, type, stateKey);
}

// Each field is exactly as documented, not merely assignable (an `any` would pass the lines above).
assertType<Equal<RoomPreview["displayNameSource"], "name" | "alias" | "inviter" | "heroes" | "empty">>();
assertType<Equal<RoomPreview["avatarSource"], "room" | "inviter" | "none">>();
assertType<Equal<RoomPreview["avatarUrl"], string | null>>();
assertType<Equal<RoomPreview["encrypted"], boolean>>();
assertType<Equal<RoomPreview["isDirect"], boolean>>();
assertType<Equal<RoomPreview["placeholder"]["colorIndex"], number>>();
assertType<Equal<RoomPreview["warnings"][number]["stateKey"], string | null>>();
assertType<Equal<IsAny<RoomPreview["inviter"]>, false>>();

// Errors are Errors with a typed code.
try {
  computeStrippedState(state, { kind: "invite", membershipEvent: invite });
} catch (error) {
  const e = error as PrejoinError;
  const code: PrejoinErrorCode = e.code;
  const message: string = e.message;
  if (code === "DUPLICATE_STATE") console.log(message);
}
