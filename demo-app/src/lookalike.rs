//! Names that look alike: two members whose names read the same (Latin
//! "Alice" and Cyrillic "Аlice", "bob" and "BOB", "l" and "I") are told
//! apart by a suffix from their user ids, which cannot be spoofed. The
//! server already folds compatibility forms (fullwidth letters) with NFKC
//! and refuses invisible and bidirectional-override names.

/// What a name looks like: case folded, common cross-script look-alikes
/// mapped to the Latin letter they resemble, and everything that is not a
/// letter or digit dropped. Two names with the same skeleton can be
/// mistaken for each other.
pub fn skeleton(name: &str) -> String {
    name.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .map(|c| match c {
            'а' | 'α' | 'ɑ' => 'a',
            'в' | 'β' => 'b',
            'с' | 'ϲ' => 'c',
            'ԁ' => 'd',
            'е' | 'ё' | 'ε' => 'e',
            'ɡ' => 'g',
            'һ' => 'h',
            'i' | 'і' | 'ι' | 'ı' | '1' | 'l' => 'l',
            'ј' => 'j',
            'к' | 'κ' => 'k',
            'м' => 'm',
            'п' | 'η' => 'n',
            'о' | 'ο' | 'σ' | '0' => 'o',
            'р' | 'ρ' => 'p',
            'ԛ' => 'q',
            'г' => 'r',
            'ѕ' | '5' => 's',
            'т' | 'τ' => 't',
            'υ' | 'ц' => 'u',
            'ν' => 'v',
            'ш' | 'ω' => 'w',
            'х' | 'χ' => 'x',
            'у' | 'γ' => 'y',
            'z' | '2' => 'z',
            c => c,
        })
        .collect()
}

/// The short suffix that tells a member apart: the end of their user id.
pub fn id_suffix(id: &str) -> &str {
    let start = id.char_indices().rev().nth(3).map_or(0, |(i, _)| i);
    &id[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_share_a_skeleton_and_different_names_do_not() {
        for (a, b) in [
            ("Alice", "Аlice"), // Cyrillic А
            ("alice", "ALICE"),
            ("Bob", "Вob"),       // Cyrillic В
            ("paypal", "раураl"), // Cyrillic р, а, у
            ("Bill", "BiII"),     // capital I for l
            ("Carol ", "carol"),
            ("o.k.", "ok"),
        ] {
            assert_eq!(skeleton(a), skeleton(b), "{a} / {b}");
        }
        for (a, b) in [("Alice", "Alicia"), ("Bob", "Rob"), ("Ann", "Anna")] {
            assert_ne!(skeleton(a), skeleton(b), "{a} / {b}");
        }
    }

    #[test]
    fn suffix_is_the_last_four_characters() {
        assert_eq!(id_suffix("g-0123456789abcdef"), "cdef");
        assert_eq!(id_suffix("bob"), "bob");
    }
}
