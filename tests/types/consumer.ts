// A client's use of the package, type-checked in strict mode: tsc fails if the generated .d.ts
// loses a function, a field or a field's type (including a silent fall-back to `any`).
import init, {
  computeStrippedState,
  EventStore,
  previewSyncRooms,
  roomPreview,
  type ChunkError,
  type ClientEvent,
  type Event,
  type EventStoreOptions,
  type IngestOptions,
  type IngestResult,
  type IngestedRoom,
  type SectionCounts,
  type SyncResponse,
  type SyncRooms,
  type RoomTimeline,
  type RoomTimelineOptions,
  type TimelineGap,
  type InternalMetadata,
  type Pdu,
  type PersistResult,
  type RejectedEvent,
  type RoomPersistResult,
  type StateFilter,
  type StoredEvent,
  type StreamOrderingRange,
  type Inviter,
  type PrejoinConfig,
  type PrejoinError,
  type PrejoinErrorCode,
  type PreviewWarning,
  type ReplicationRow,
  type ReplicationStats,
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
assertType<Equal<IsAny<ReturnType<typeof previewSyncRooms>>, false>>();
assertType<Equal<IsAny<Parameters<typeof previewSyncRooms>[0]>, false>>();
assertType<Equal<IsAny<Parameters<typeof previewSyncRooms>[1]>, false>>();
assertType<Equal<ReturnType<typeof previewSyncRooms>, RoomPreview[]>>();
assertType<Equal<Parameters<typeof previewSyncRooms>[0], SyncRooms>>();

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

const syncRooms: SyncRooms = {
  invite: { "!room:example.org": { invite_state: { events: stripped } } },
  join: { "!other:example.org": { state: { events: state }, timeline: { events: [], limited: false } } },
};
const listed: RoomPreview[] = previewSyncRooms(syncRooms, { ownUserId: "@bob:example.org" });
console.log(listed.map((room) => room.displayName));
// @ts-expect-error: ownUserId is required
previewSyncRooms(syncRooms, {});

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

// The event store: every method's parameters and results are typed, none is `any`.
assertType<Equal<ReturnType<typeof EventStore.open>, Promise<EventStore>>>();
assertType<Equal<IsAny<Parameters<typeof EventStore.open>[0]>, false>>();
assertType<Equal<Parameters<typeof EventStore.open>[0], EventStoreOptions>>();
assertType<Equal<ReturnType<EventStore["persistEvents"]>, Promise<PersistResult>>>();
assertType<Equal<ReturnType<EventStore["getEvent"]>, Promise<StoredEvent | undefined>>>();
assertType<Equal<ReturnType<EventStore["currentState"]>, Promise<ClientEvent[]>>>();
assertType<Equal<ReturnType<EventStore["stateAtEvent"]>, Promise<ClientEvent[]>>>();
assertType<Equal<ReturnType<EventStore["forwardExtremities"]>, Promise<string[]>>>();
assertType<Equal<ReturnType<EventStore["strippedState"]>, Promise<StrippedEvent[]>>>();
assertType<Equal<ReturnType<EventStore["roomPreviews"]>, Promise<RoomPreview[]>>>();
assertType<Equal<ReturnType<EventStore["currentToken"]>, number>>();
assertType<Equal<EventStore["instanceName"], string>>();
assertType<Equal<IsAny<Parameters<EventStore["persistEvents"]>[1]>, false>>();
assertType<Equal<IsAny<Parameters<EventStore["strippedState"]>[1]>, false>>();
assertType<Equal<IsAny<Parameters<EventStore["roomPreviews"]>[0]>, false>>();
assertType<Equal<IsAny<Parameters<EventStore["currentState"]>[1]>, false>>();

assertType<Equal<ReturnType<EventStore["ingestSync"]>, Promise<IngestResult>>>();
assertType<Equal<Parameters<EventStore["ingestSync"]>[0], SyncResponse>>();
assertType<Equal<Parameters<EventStore["ingestSync"]>[1], IngestOptions>>();
assertType<Equal<ReturnType<EventStore["syncToken"]>, string | undefined>>();
assertType<Equal<IngestResult["rooms"], IngestedRoom[]>>();
assertType<Equal<IngestResult["counts"], SectionCounts>>();
assertType<Equal<IngestResult["streamOrderings"], StreamOrderingRange | null>>();
assertType<Equal<IngestResult["syncTokenStored"], boolean>>();
assertType<Equal<IngestedRoom["section"], "join" | "invite" | "knock" | "leave">>();
assertType<Equal<IngestedRoom["error"], ChunkError | null>>();
assertType<Equal<SectionCounts["events"], number>>();
assertType<Equal<ReturnType<EventStore["roomTimeline"]>, Promise<RoomTimeline>>>();
// Several tabs: the stream's token, each writer's position, subscribers and counters.
assertType<Equal<ReturnType<EventStore["currentStreamToken"]>, string>>();
assertType<Equal<ReturnType<EventStore["streamPositions"]>, Promise<Record<string, number>>>>();
assertType<Equal<ReturnType<EventStore["stats"]>, ReplicationStats>>();
assertType<Equal<ReturnType<EventStore["subscribe"]>, () => void>>();
assertType<Equal<Parameters<EventStore["subscribe"]>[0], (rows: ReplicationRow[], rooms: string[]) => void>>();
assertType<Equal<ReplicationRow["stateKey"], string | null>>();
assertType<Equal<ReplicationRow["membership"], string | null>>();
assertType<Equal<ReplicationStats["catchUps"], number>>();
assertType<Equal<Parameters<EventStore["roomTimeline"]>[1], RoomTimelineOptions | null | undefined>>();
assertType<Equal<RoomTimeline["events"], ClientEvent[]>>();
assertType<Equal<RoomTimeline["gap"], TimelineGap | null>>();
assertType<Equal<TimelineGap["prevBatch"], string>>();

assertType<Equal<PersistResult["rooms"], RoomPersistResult[]>>();
assertType<Equal<RoomPersistResult["roomId"], string>>();
assertType<Equal<RoomPersistResult["persisted"], string[]>>();
assertType<Equal<RoomPersistResult["rejected"], RejectedEvent[]>>();
assertType<Equal<RejectedEvent["eventId"], string>>();
assertType<Equal<RejectedEvent["reason"], string>>();
assertType<Equal<RoomPersistResult["softFailed"], string[]>>();
assertType<Equal<RoomPersistResult["forwardExtremities"], string[]>>();
assertType<Equal<RoomPersistResult["streamOrderings"], StreamOrderingRange | null>>();
assertType<Equal<StreamOrderingRange["first"], number>>();
assertType<Equal<StreamOrderingRange["last"], number>>();
assertType<Equal<RoomPersistResult["error"], ChunkError | null>>();
assertType<Equal<ChunkError["code"], PrejoinErrorCode>>();
assertType<Equal<ChunkError["message"], string>>();

assertType<Equal<StoredEvent["eventId"], string>>();
assertType<Equal<StoredEvent["event"], Pdu | ClientEvent>>();
assertType<Equal<StoredEvent["clientFormat"], boolean>>();
assertType<Equal<StoredEvent["roomVersion"], string>>();
assertType<Equal<StoredEvent["formatVersion"], number>>();
assertType<Equal<StoredEvent["internalMetadata"], InternalMetadata>>();
assertType<Equal<StoredEvent["rejectedReason"], string | null>>();
assertType<Equal<InternalMetadata["outlier"], boolean>>();
assertType<Equal<InternalMetadata["softFailed"], boolean>>();
assertType<Equal<InternalMetadata["streamOrdering"], number | null>>();
assertType<Equal<InternalMetadata["instanceName"], string | null>>();
assertType<Equal<InternalMetadata["outOfBandMembership"], boolean>>();
assertType<Equal<InternalMetadata["txnId"], string | null>>();
assertType<Equal<InternalMetadata["redacted"], boolean>>();
assertType<Equal<Pdu["event_id"], string>>();
assertType<Equal<Pdu["depth"], number>>();
assertType<Equal<ClientEvent["event_id"], string>>();
assertType<Equal<ClientEvent["room_id"], string>>();

const store: EventStore = await EventStore.open({ name: "events", instanceName: "tab-1", config, inMemory: true });
const result: PersistResult = await store.persistEvents(state, { backfilled: false });
await store.persistEvents(state);
for (const room of result.rooms) {
  if (room.error) {
    const code: PrejoinErrorCode = room.error.code;
    console.log(room.roomId, code, room.error.message);
  }
}
const filter: StateFilter = { types: [["m.room.name", ""], ["m.room.topic", null]], includeOthers: false };
const lazy: StateFilter = { members: ["@bob:example.org"] };
const current: ClientEvent[] = await store.currentState("!room:example.org", filter);
await store.currentState("!room:example.org");
const at: ClientEvent[] = await store.stateAtEvent("$event", lazy);
const stored: StoredEvent | undefined = await store.getEvent("$event");
const streamOrdering: number | null | undefined = stored?.internalMetadata.streamOrdering;
const extremities: string[] = await store.forwardExtremities("!room:example.org");
const invited: StrippedEvent[] = await store.strippedState("!room:example.org", { kind: "invite", userId: "@bob:example.org" });
const previews: RoomPreview[] = await store.roomPreviews({ ownUserId: "@bob:example.org" });
const response: SyncResponse = { next_batch: "s1", rooms: { join: {}, invite: {} }, presence: {} };
const ingested: IngestResult = await store.ingestSync(response, {
  ownUserId: "@bob:example.org",
  onProgress: (done: number, total: number) => console.log(done, total),
});
const since: string | undefined = store.syncToken();
const page: RoomTimeline = await store.roomTimeline("!room:example.org", { limit: 30, before: "$event" });
const older = page.gap ? page.gap.prevBatch : page.events[0]?.event_id;
console.log(older);
console.log(ingested.counts.join, since);
const token: number = store.currentToken();
const instance: string = store.instanceName;
console.log(current, at, streamOrdering, extremities, invited, previews, token, instance);
store.close();

// @ts-expect-error: the own user is required
store.ingestSync(response, {});
// @ts-expect-error: a response has a next_batch
store.ingestSync({ rooms: {} }, { ownUserId: "@bob:example.org" });
// @ts-expect-error: the name is required
EventStore.open({ inMemory: true });
// @ts-expect-error: the kind is "invite" or "knock"
store.strippedState("!room:example.org", { kind: "join", userId: "@bob:example.org" });
// @ts-expect-error: members is "all", "none" or user ids
store.currentState("!room:example.org", { members: "some" });
// @ts-expect-error: the room id is a string
store.forwardExtremities(42);
