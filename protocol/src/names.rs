//! Room and display-name rules shared by server and SDK.

/// Longest room name accepted, in bytes.
pub const MAX_ROOM_NAME: usize = 100;
/// Longest display name accepted, in characters.
pub const MAX_DISPLAY_NAME: usize = 64;
/// Prefix of direct-message rooms.
pub const DM_PREFIX: &str = "dm:";

/// Why a room name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomNameError {
    /// Zero length.
    #[error("room name is empty")]
    Empty,
    /// Over [`MAX_ROOM_NAME`] bytes.
    #[error("room name is longer than {MAX_ROOM_NAME} bytes")]
    TooLong,
    /// A character outside `A-Z a-z 0-9 _ - .` (and `:` in `dm:` names).
    #[error("room name may only contain letters, digits, '_', '-' and '.'")]
    BadChar,
}

/// Checks a native room name: 1–100 bytes of ASCII letters, digits, `_`,
/// `-`, `.`; or a DM room `dm:<user>:<user>`.
///
/// ```
/// use confab_protocol::validate_room_name;
/// assert!(validate_room_name("lobby").is_ok());
/// assert!(validate_room_name("../etc").is_err());
/// assert!(validate_room_name("dm:g-1:g-2").is_ok());
/// ```
pub fn validate_room_name(name: &str) -> Result<(), RoomNameError> {
    if name.is_empty() {
        return Err(RoomNameError::Empty);
    }
    if name.len() > MAX_ROOM_NAME {
        return Err(RoomNameError::TooLong);
    }
    let body = match name.strip_prefix(DM_PREFIX) {
        Some(rest) => match split_colon(rest) {
            Some((a, b)) if !a.is_empty() && !b.is_empty() => {
                return if is_id(a) && is_id(b) {
                    Ok(())
                } else {
                    Err(RoomNameError::BadChar)
                };
            }
            _ => return Err(RoomNameError::BadChar),
        },
        None => name,
    };
    if is_id(body) {
        Ok(())
    } else {
        Err(RoomNameError::BadChar)
    }
}

fn is_id(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The room holding the direct conversation of two users; the same whoever
/// sends: `dm:<smaller id>:<larger id>`.
///
/// ```
/// assert_eq!(confab_protocol::dm_room("bob", "alice"), "dm:alice:bob");
/// ```
pub fn dm_room(a: &str, b: &str) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    format!("{DM_PREFIX}{x}:{y}")
}

/// The two user ids of a DM room, or `None` for a normal room.
pub fn dm_members(room: &str) -> Option<(&str, &str)> {
    split_colon(room.strip_prefix(DM_PREFIX)?)
}

/// `s.split_once(':')` by byte search (no `char` searcher in wasm builds).
fn split_colon(s: &str) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == b':')?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Trims a display name and checks its length (1–[`MAX_DISPLAY_NAME`] chars,
/// no control characters). Returns the trimmed name.
pub fn normalize_display_name(name: &str) -> Option<&str> {
    let t = name.trim();
    let n = t.chars().count();
    (n > 0 && n <= MAX_DISPLAY_NAME && !t.chars().any(char::is_control)).then_some(t)
}
