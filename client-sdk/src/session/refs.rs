//! Request ids (`ref`): the client numbers its requests 1, 2, 3, … and
//! sends the number as decimal text; replies carry it back.

/// The decimal text of a request id (by hand: no `core::fmt` in the wasm).
pub(crate) fn ref_text(mut n: u64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(char::from(b'0' + (n % 10) as u8));
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.iter().rev().collect()
}

/// A request id from a reply's `ref` (`None` unless it is all digits).
pub(crate) fn parse_ref(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.bytes().try_fold(0u64, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u64::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::{parse_ref, ref_text};

    #[test]
    fn request_ids_round_trip_as_decimal_text() {
        for n in [0, 1, 9, 10, 99, 1234567890, u64::MAX / 10] {
            assert_eq!(ref_text(n), n.to_string());
            assert_eq!(parse_ref(&n.to_string()), Some(n));
        }
        for bad in ["", "x1", "1x", "-1", "1.5", "12345678901234567890"] {
            assert_eq!(parse_ref(bad), None, "{bad}");
        }
    }
}
