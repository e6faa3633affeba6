//! The room's avatar: `m.room.avatar`, then (invites) the inviter's avatar, then none; plus a
//! placeholder that every room gets, so that a list always renders.

use serde::{Deserialize, Serialize};

/// Where a preview's avatar came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum AvatarSource {
    /// The room's `m.room.avatar` url.
    Room,
    /// The inviter's `avatar_url` (invites only).
    Inviter,
    /// No avatar: show the placeholder.
    None,
}

/// How many placeholder colours there are; `colorIndex` is below this.
pub const PLACEHOLDER_COLORS: u32 = 8;

/// A placeholder avatar: an initial on a colour, derived deterministically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Placeholder {
    /// The first letter of the display name (after any `#`, `@` or `!` sigil), upper-cased; `?`
    /// when the name has no letter to show.
    pub initial: String,
    /// The colour, `0..8`: the sum of the room id's UTF-16 code units modulo 8, as Element's
    /// default avatars compute it, so the same room has the same colour everywhere.
    pub color_index: u32,
}

impl Placeholder {
    /// The placeholder for a room with this (sanitised) display name.
    pub fn new(room_id: &str, display_name: &str) -> Self {
        let initial = display_name
            .trim_start_matches(['#', '@', '!'])
            .chars()
            .next()
            .map_or_else(|| "?".to_owned(), |c| c.to_uppercase().collect());
        let sum = room_id.encode_utf16().fold(0u32, |sum, unit| sum.wrapping_add(u32::from(unit)));
        Self { initial, color_index: sum % PLACEHOLDER_COLORS }
    }
}

#[cfg(test)]
mod tests {
    use super::Placeholder;

    #[test]
    fn placeholder_is_deterministic_and_skips_sigils() {
        let a = Placeholder::new("!abc:localhost", "#tea:localhost");
        assert_eq!(a.initial, "T");
        // '!' 33 + 'a' 97 + 'b' 98 + 'c' 99 + ':' 58 + "localhost" 969 = 1354; 1354 % 8 = 2.
        assert_eq!(a.color_index, 2);
        assert_eq!(Placeholder::new("!abc:localhost", "ßig").initial, "SS");
        assert_eq!(Placeholder::new("!r", "").initial, "?");
        assert_eq!(Placeholder::new("!r", "@@").initial, "?");
        assert_eq!(Placeholder::new("!r", "😀 party").initial, "😀");
    }
}
