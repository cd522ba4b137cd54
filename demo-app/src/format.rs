//! Small display helpers: times, initials, avatar colours.

/// `HH:MM` in the browser's time zone.
pub fn clock(ts_ms: f64) -> String {
    let d = js_sys::Date::new(&ts_ms.into());
    format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
}

/// A time for lists: `HH:MM` today, else `D Mon`.
pub fn short_time(ts_ms: f64) -> String {
    let d = js_sys::Date::new(&ts_ms.into());
    let today = js_sys::Date::new_0();
    if d.to_date_string() == today.to_date_string() {
        clock(ts_ms)
    } else {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = MONTHS.get(d.get_month() as usize).copied().unwrap_or("");
        format!("{} {month}", d.get_date())
    }
}

/// The start-of-conversation divider: `Today 14:05` or `21 Nov 14:05`.
pub fn divider_time(ts_ms: f64) -> String {
    let day = short_time(ts_ms);
    let clock = clock(ts_ms);
    if day == clock {
        format!("Today {clock}")
    } else {
        format!("{day} {clock}")
    }
}

/// The die face for a position 1–6 (`?` otherwise).
pub fn die_face(position: u8) -> &'static str {
    const FACES: [&str; 6] = ["⚀", "⚁", "⚂", "⚃", "⚄", "⚅"];
    usize::from(position)
        .checked_sub(1)
        .and_then(|i| FACES.get(i))
        .copied()
        .unwrap_or("?")
}

/// Up to two initials: "Ada Lovelace" → "AL", "bob" → "B".
pub fn initials(name: &str) -> String {
    let mut words = name
        .split_whitespace()
        .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()));
    let mut out = String::new();
    out.extend(words.next().into_iter().flat_map(char::to_uppercase));
    out.extend(words.next_back().into_iter().flat_map(char::to_uppercase));
    if out.is_empty() {
        out.push('?');
    }
    out
}

/// A stable hue (0–359) for a user id or room name.
pub fn hue(seed: &str) -> u32 {
    seed.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    }) % 360
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_take_first_and_last_word() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("bob"), "B");
        assert_eq!(initials("  "), "?");
        assert_eq!(initials("<img src=x>"), "IS");
        assert_eq!(initials("Mary Ann Evans"), "ME");
    }

    #[test]
    fn die_faces_cover_one_to_six_only() {
        assert_eq!(die_face(1), "⚀");
        assert_eq!(die_face(6), "⚅");
        assert_eq!(die_face(0), "?");
        assert_eq!(die_face(7), "?");
    }

    #[test]
    fn hue_is_stable_and_in_range() {
        assert_eq!(hue("g-1"), hue("g-1"));
        assert!(hue("anything") < 360);
    }
}
