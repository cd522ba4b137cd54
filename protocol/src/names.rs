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

/// Trims a display name and checks it: 1–[`MAX_DISPLAY_NAME`] chars, no
/// control characters, no bidirectional controls (which reorder what
/// readers see: `\u{202E}` makes "evil" read "live"), and not made only of
/// characters that show nothing (spaces, zero-width and format characters,
/// Hangul fillers). Returns the trimmed name. The server also applies
/// Unicode NFKC before this check (fullwidth letters become ASCII).
///
/// ```
/// use confab_protocol::normalize_display_name as n;
/// assert_eq!(n("  Alice "), Some("Alice"));
/// assert_eq!(n("b\u{200B}ob"), Some("b\u{200B}ob")); // visible letters around it
/// assert_eq!(n("\u{200B}\u{2060}"), None);            // nothing visible
/// assert_eq!(n("\u{3164}"), None);                    // Hangul filler
/// assert_eq!(n("ad\u{202E}nim"), None);               // right-to-left override
/// assert_eq!(n("a\nb"), None);
/// ```
pub fn normalize_display_name(name: &str) -> Option<&str> {
    let t = name.trim();
    let n = t.chars().count();
    let ok = n > 0
        && n <= MAX_DISPLAY_NAME
        && !t.chars().any(|c| c.is_control() || is_bidi_control(c))
        && !t.chars().all(|c| c.is_whitespace() || is_invisible(c));
    ok.then_some(t)
}

/// Bidirectional formatting characters (Unicode's `Bidi_Control`).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that render as nothing: Unicode's default-ignorable code
/// points, the Hangul fillers and the blank Braille pattern.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}
