//! Token verification (`confab_server::auth::verify`, the JWT check run on
//! every handshake with `?token=` or `Authorization: Bearer`, and
//! `GuestKey::verify` for `?guest=`): never panics, never accepts input
//! that is not a token signed with one of the secrets, and a guest token
//! only ever yields a `g-<16 hex>` id.
#![no_main]

use confab_server::auth::{is_guest_id, mint, verify, Claims, GuestKey};
use libfuzzer_sys::fuzz_target;

const SECRETS: [&str; 2] = ["fuzz-current", "fuzz-previous"];
/// A fixed "now" inside every token's life the fuzzer is likely to build.
const NOW: u64 = 1_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let secrets: Vec<String> = SECRETS.iter().map(|s| (*s).to_owned()).collect();
    if let Ok(claims) = verify(&secrets, text, NOW) {
        // Only a genuine token verifies: one of the secrets alone accepts
        // it, and re-minting its claims gives a token with the same claims.
        let signed_by_us = SECRETS
            .iter()
            .any(|s| verify(&[(*s).to_owned()], text, NOW).is_ok());
        assert!(signed_by_us);
        assert_eq!(verify(&secrets, &mint(SECRETS[0], &claims), NOW), Ok(claims));
    }
    if let Some(id) = GuestKey::new(SECRETS[0]).verify(text, NOW) {
        assert!(is_guest_id(&id), "guest token yielded {id:?}");
        assert!(
            verify(&secrets, text, NOW).is_err(),
            "a guest token verified as a user token"
        );
    }
    // Arbitrary claims survive a mint/verify round trip or are refused.
    let claims = Claims {
        sub: text.chars().take(40).collect(),
        name: Some(text.to_owned()),
        exp: NOW + u64::from(text.len() as u32) + 1,
        rooms: Some([(text.to_owned(), vec![text.to_owned()])].into()),
        ..Claims::default()
    };
    let _ = verify(&secrets, &mint(SECRETS[1], &claims), NOW);
});
