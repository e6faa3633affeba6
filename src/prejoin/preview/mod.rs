//! A room preview: what a client needs to render a room it may not be in, computed from stripped
//! state (invites, knocks) or from full state (joined rooms).
//!
//! Nothing in stripped state is signed, so the preview is built only from events it may trust
//! (see [`trust`]): on a knock no other member's data is ever used, whatever the server sent; on
//! an invite only the own member event and the inviter's. Every display string is sanitised
//! ([`sanitize`]) with its raw value kept alongside.

pub mod avatar;
mod content;
pub mod name;
pub mod sanitize;
mod sync_rooms;
pub mod trust;

use serde::{Deserialize, Serialize};

pub use self::avatar::{AvatarSource, Placeholder};
use self::content::{ContentReader, Member, RoomFacts};
use self::name::MAX_HEROES;
pub use self::name::{compute_heroes_name, DisplayNameSource, HeroesName};
use self::sanitize::sanitize_display;
pub use self::sync_rooms::{preview_sync_rooms, preview_sync_rooms_each};
use self::trust::MemberPolicy;
pub use self::trust::{PreviewWarning, WarningCode};
use crate::model::{InputError, InvalidEvent, StrippedEventRef};

/// What the own user's relation to the room is, which decides which members a preview may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify, Serialize))]
#[serde(rename_all = "lowercase")]
pub enum PreviewKind {
    /// Invited: the inviter's member event is used, no other member's.
    Invite,
    /// Knocked: no member event but the own one is ever used.
    Knock,
    /// Joined (full state): every member.
    Join,
}

/// Which room to preview, and for whom.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PreviewRequest {
    /// The room's id; events claiming another room are ignored.
    pub room_id: String,
    /// The user the preview is for.
    pub own_user_id: String,
    /// Invite, knock or join; when `None`, the own membership in the state decides (join when
    /// it is neither invite nor knock).
    pub kind: Option<PreviewKind>,
}

impl PreviewRequest {
    /// A request whose kind is read from the own membership.
    pub fn new(room_id: impl Into<String>, own_user_id: impl Into<String>) -> Self {
        Self { room_id: room_id.into(), own_user_id: own_user_id.into(), kind: None }
    }

    /// The same request with an explicit kind.
    pub fn with_kind(mut self, kind: PreviewKind) -> Self {
        self.kind = Some(kind);
        self
    }
}

/// The user who sent the invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Inviter {
    /// The sender of the own invite event.
    pub user_id: String,
    /// Their sanitised display name from their member event in the room, if any.
    pub display_name: Option<String>,
    /// Their `mxc://` avatar from their member event in the room, if any.
    pub avatar_url: Option<String>,
}

/// Everything a client needs to render a room in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct RoomPreview {
    /// The room previewed.
    pub room_id: String,
    /// The name to show: sanitised, at most 255 characters.
    pub display_name: String,
    /// The name before sanitising.
    pub display_name_raw: String,
    /// Where the name came from.
    pub display_name_source: DisplayNameSource,
    /// With source `heroes`: the (sanitised, disambiguated) member names in the name, so that a
    /// client can word it in its own language.
    pub heroes: Vec<String>,
    /// With source `heroes`: how many more members the name mentions as "N others".
    pub other_member_count: u64,
    /// An `mxc://` avatar, or `null`.
    pub avatar_url: Option<String>,
    /// Where the avatar came from.
    pub avatar_source: AvatarSource,
    /// What to show when there is no avatar, or while it loads.
    pub placeholder: Placeholder,
    /// The topic as plain text, sanitised.
    pub topic: Option<String>,
    /// The room's canonical alias.
    pub canonical_alias: Option<String>,
    /// The join rule (`invite`, `knock`, `public`, …).
    pub join_rule: Option<String>,
    /// The room type from the create event (`m.space` for spaces).
    pub room_type: Option<String>,
    /// Whether the room has `m.room.encryption`.
    pub encrypted: bool,
    /// The room version from the create event (`"1"` when the create event has none).
    pub room_version: Option<String>,
    /// Who invited the own user (invites only).
    pub inviter: Option<Inviter>,
    /// The reason given with the own knock, sanitised.
    pub knock_reason: Option<String>,
    /// Whether the own invite is marked `is_direct`.
    pub is_direct: bool,
    /// The own membership (`invite`, `knock`, `join`, …), if the state has it.
    pub membership: Option<String>,
    /// `origin_server_ts` of the own member event, when given: how old an invite snapshot is.
    pub membership_ts: Option<u64>,
    /// What the preview ignored or found missing.
    pub warnings: Vec<PreviewWarning>,
}

/// Computes the preview of a room from its stripped (or full) state, given as JSON text.
///
/// The events are read in place from the text, and only the contents the preview needs are
/// parsed. Fails only when `state` is not JSON or not an array; anything wrong inside the array
/// becomes a warning.
pub fn compute_room_preview(
    state: &str,
    request: &PreviewRequest,
) -> Result<RoomPreview, InputError> {
    let state = match crate::model::parse_events(state) {
        Ok(state) => state,
        Err(error) if error.is_data() => return Err(InputError::StateNotArray),
        Err(error) => return Err(InputError::InvalidJson(error.to_string())),
    };
    Ok(preview_of_events(state, request, Vec::new()))
}

/// The preview of events already read from their text; `warnings` are the caller's own, kept
/// ahead of the preview's.
fn preview_of_events(
    state: Vec<Result<StrippedEventRef<'_>, InvalidEvent>>,
    request: &PreviewRequest,
    mut warnings: Vec<PreviewWarning>,
) -> RoomPreview {
    let own_user = request.own_user_id.as_str();
    let mut events = trust::index_events(state, &request.room_id, &mut warnings);

    let own_event = events.get(&trust::key("m.room.member", own_user));
    let own_membership = own_event.and_then(|event| event.membership());
    let kind = request.kind.unwrap_or(match own_membership.as_deref() {
        Some("invite") => PreviewKind::Invite,
        Some("knock") => PreviewKind::Knock,
        _ => PreviewKind::Join,
    });
    let inviter_id = match (kind, own_event) {
        (PreviewKind::Invite, Some(event)) if own_membership.as_deref() == Some("invite") => {
            Some(event.sender.to_string())
        }
        _ => None,
    };
    let policy = match kind {
        PreviewKind::Join => MemberPolicy::All,
        PreviewKind::Invite => MemberPolicy::OwnAndInviter(own_user, inviter_id.as_deref()),
        PreviewKind::Knock => MemberPolicy::OwnOnly(own_user),
    };
    trust::apply_member_policy(&mut events, policy, &mut warnings);

    let mut reader = ContentReader { events: &events, warnings: &mut warnings };
    let room = RoomFacts::read(&mut reader);
    let own = reader.member(own_user);
    let inviter = inviter_id.map(|user_id| inviter_of(&mut reader, user_id));
    let (name_raw, name_clean, source, heroes) = match (&room.name, &room.canonical_alias, &inviter)
    {
        (Some(name), _, _) => (name.clone(), sanitize_display(name), DisplayNameSource::Name, None),
        (None, Some(alias), _) => {
            (alias.clone(), sanitize_display(alias), DisplayNameSource::Alias, None)
        }
        (None, None, Some(inviter)) => {
            let raw = inviter.raw_name.clone();
            (raw.clone(), sanitize_display(&raw), DisplayNameSource::Inviter, None)
        }
        (None, None, None) => {
            let members = if kind == PreviewKind::Join { reader.members() } else { Vec::new() };
            let (raw, clean) = heroes_names(&members, own_user);
            let source = if raw.names().is_empty() {
                DisplayNameSource::Empty
            } else {
                DisplayNameSource::Heroes
            };
            (raw.to_english(), sanitize_display(&clean.to_english()), source, Some(clean))
        }
    };

    if kind != PreviewKind::Join && own.is_none() {
        warnings.push(PreviewWarning::new(
            WarningCode::MissingOwnMembership,
            "m.room.member",
            own_user,
        ));
    }
    if !room.has_create {
        warnings.push(PreviewWarning::new(WarningCode::MissingCreate, "m.room.create", ""));
    }
    let (avatar_url, avatar_source) =
        match (&room.avatar_url, inviter.as_ref().and_then(|i| i.preview.avatar_url.as_ref())) {
            (Some(url), _) => (Some(url.clone()), AvatarSource::Room),
            (None, Some(url)) => (Some(url.clone()), AvatarSource::Inviter),
            (None, None) => (None, AvatarSource::None),
        };
    let knock_reason = own
        .as_ref()
        .filter(|own| own.membership == "knock")
        .and_then(|own| own.reason.as_deref())
        .map(sanitize_display);
    RoomPreview {
        placeholder: Placeholder::new(&request.room_id, &name_clean),
        room_id: request.room_id.clone(),
        display_name: name_clean,
        display_name_raw: name_raw,
        display_name_source: source,
        heroes: heroes.as_ref().map_or_else(Vec::new, |heroes| heroes.names().to_vec()),
        other_member_count: heroes.as_ref().map_or(0, HeroesName::others),
        avatar_url,
        avatar_source,
        topic: room.topic.as_deref().map(sanitize_display),
        canonical_alias: room.canonical_alias,
        join_rule: room.join_rule,
        room_type: room.room_type,
        encrypted: room.encrypted,
        room_version: room.room_version,
        inviter: inviter.map(|inviter| inviter.preview),
        knock_reason,
        is_direct: own.as_ref().is_some_and(|own| own.is_direct),
        membership: own.as_ref().map(|own| own.membership.clone()).or(own_membership),
        membership_ts: own.as_ref().and_then(|own| own.origin_server_ts),
        warnings,
    }
}

/// The inviter as previewed, plus the raw name the display-name chain uses.
struct InviterName {
    preview: Inviter,
    raw_name: String,
}

fn inviter_of(reader: &mut ContentReader<'_, '_>, user_id: String) -> InviterName {
    let member = reader.member(&user_id);
    let raw_name = member.as_ref().map_or(user_id.as_str(), Member::name).to_owned();
    let preview = Inviter {
        display_name: member.as_ref().and_then(|m| m.displayname.as_deref()).map(sanitize_display),
        avatar_url: member.and_then(|m| m.avatar_url),
        user_id,
    };
    InviterName { preview, raw_name }
}

/// The heroes name twice: from raw names (for `displayNameRaw`) and from sanitised ones.
///
/// Heroes are the other joined or invited members, by user id, at most [`MAX_HEROES`]; when
/// nobody else is joined or invited, the members who left or were banned ("Empty room (was …)").
/// A name shared by several joined or invited members is disambiguated as "name (@user:id)".
fn heroes_names(members: &[Member], own_user: &str) -> (HeroesName, HeroesName) {
    let present: Vec<&Member> = members.iter().filter(|m| m.is_joined_or_invited()).collect();
    let others = |keep: &dyn Fn(&Member) -> bool| -> Vec<&Member> {
        members.iter().filter(|m| m.user_id != own_user && keep(m)).take(MAX_HEROES).collect()
    };
    let mut heroes = others(&Member::is_joined_or_invited);
    if heroes.is_empty() {
        heroes = others(&|m: &Member| matches!(m.membership.as_str(), "leave" | "ban"));
    }
    let label = |member: &Member, clean: bool| {
        let name = if clean { sanitize_display(member.name()) } else { member.name().to_owned() };
        let shared = present.iter().filter(|other| other.name() == member.name()).count() > 1;
        if shared {
            format!("{name} ({})", member.user_id)
        } else {
            name
        }
    };
    let total = present.len() as u64;
    let raw = heroes.iter().map(|m| label(m, false)).collect();
    let clean = heroes.iter().map(|m| label(m, true)).collect();
    (compute_heroes_name(raw, total), compute_heroes_name(clean, total))
}
