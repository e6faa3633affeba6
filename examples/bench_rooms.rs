//! Writes the synthetic rooms `npm run bench` persists, as JSON on stdout:
//! `{"rooms": [{"name", "room_id", "last_event_id", "event_ids": [...], "events": [...]}]}`.
//!
//!     cargo run -q --example bench_rooms -- messages:10000 members:10000
//!
//! Each argument is `kind:count`: `messages` (one creator sending `count` messages) or `members`
//! (`count` users joining a public room, then one message). The rooms are the ones the store
//! conformance suite checks (`tests/common/synthetic.rs`): room version 10, ids computed.

// The tests build rooms event by event too; the bench builds them whole.
#[allow(dead_code)]
#[path = "../tests/common/synthetic.rs"]
mod synthetic;

use std::io::Write;

use serde_json::json;
use synthetic::SyntheticRoom;

fn main() {
    let mut rooms = Vec::new();
    for spec in std::env::args().skip(1) {
        let Some((kind, count)) = spec.split_once(':') else { usage(&spec) };
        let Ok(count) = count.parse::<usize>() else { usage(&spec) };
        let name = format!("{kind}{count}");
        let room = match kind {
            "messages" => SyntheticRoom::new(&name).with_messages(count),
            "members" => SyntheticRoom::new(&name).with_members(count).with_messages(1),
            _ => usage(&spec),
        };
        rooms.push(json!({
            "name": name,
            "room_id": room.room_id,
            "last_event_id": room.last_event_id(),
            "event_ids": room.event_ids,
            "events": room.events,
        }));
    }
    let out = serde_json::to_string(&json!({ "rooms": rooms })).unwrap_or_default();
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(out.as_bytes()).is_err() {
        std::process::exit(1);
    }
}

fn usage(spec: &str) -> ! {
    eprintln!("bench_rooms: {spec:?} is not messages:N or members:N");
    std::process::exit(2)
}
