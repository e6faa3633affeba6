// Conversions across the boundary that JS does natively (`convert.rs`). The package's JS is
// in few files: each is one more module a page fetches before the package can start.

const encoder = new TextEncoder();

// `JSON.stringify` of `value` as UTF-8 bytes; `undefined` when JSON has no text for it.
export function stringifyUtf8(value) {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : encoder.encode(text);
}

// The previews of `previewSyncRooms` as they leave the module: JSON arrays of rows, each row a
// preview's field values in `RoomPreview`'s order, its placeholder's and inviter's as arrays too
// (`preview_rows.rs`), made into the objects `roomPreview` returns, fields in the same order.
// `chunks`: arrays of rows, in order. Returns one array of previews.
export function previewsOfRows(chunks) {
  const previews = [];
  for (const rows of chunks) {
    for (const row of rows) {
      previews.push({
        roomId: row[0],
        displayName: row[1],
        displayNameRaw: row[2],
        displayNameSource: row[3],
        heroes: row[4],
        otherMemberCount: row[5],
        avatarUrl: row[6],
        avatarSource: row[7],
        placeholder: { initial: row[8][0], colorIndex: row[8][1] },
        topic: row[9],
        canonicalAlias: row[10],
        joinRule: row[11],
        roomType: row[12],
        encrypted: row[13],
        roomVersion: row[14],
        inviter: row[15] && { userId: row[15][0], displayName: row[15][1], avatarUrl: row[15][2] },
        knockReason: row[16],
        isDirect: row[17],
        membership: row[18],
        membershipTs: row[19],
        warnings: row[20],
      });
    }
  }
  return previews;
}
