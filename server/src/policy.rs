//! Room permissions: which rooms guests, token users and token users
//! holding a grant may join, publish to, see the members of, and read the
//! history of.
//!
//! The policy is local configuration (the `[policy]` table of
//! `--config FILE`), compiled once at start; grants travel in the token
//! (its `rooms` claim, compiled once per token). Every node with the same
//! file decides the same way, and a decision is made when a request is
//! made (join, publish, list, history, an HTTP call), never per delivered
//! message. See docs/PERMISSIONS.md.
//!
//! ```
//! use confab_server::policy::{Action, Grants, Policy, Who};
//! let policy = Policy::from_toml_str(r#"
//!     [[policy.rooms]]
//!     match = "announce.**"
//!     guest = ["join", "presence", "history"]
//!     [[policy.rooms]]
//!     match = "team.*.**"
//!     granted = ["join", "publish", "history"]
//! "#).unwrap();
//! let none = Grants::default();
//! let team42 = Grants::from_claim([("team.42.**", ["join", "publish"])]).unwrap();
//! let guest = Who::guest("g-1");
//! let alice = Who::user("alice", &none);
//! let bob = Who::user("bob", &team42);
//! assert!(policy.allows(guest, "announce.news", Action::Join));
//! assert!(!policy.allows(alice, "announce.news", Action::Publish));
//! assert!(!policy.allows(alice, "team.42.general", Action::Join));
//! assert!(policy.allows(bob, "team.42.general", Action::Publish));
//! assert!(!policy.allows(bob, "team.42.general", Action::History)); // not in the grant
//! assert!(!policy.allows(bob, "team.7.general", Action::Join));
//! assert!(policy.allows(guest, "lobby", Action::Publish)); // no rule: open
//! ```

use std::fmt;
use std::sync::Arc;

use confab_protocol::dm_members;
use serde::Deserialize;

/// Something a user may do in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Join the room and receive its messages.
    Join,
    /// Publish to it.
    Publish,
    /// See who is in it (`list`, the member list of `joined`).
    Presence,
    /// Read what was said before (`history`, the history of `joined`).
    History,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 4] = [
        Action::Join,
        Action::Publish,
        Action::Presence,
        Action::History,
    ];

    /// The name in config files and token claims.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Publish => "publish",
            Self::Presence => "presence",
            Self::History => "history",
        }
    }

    /// Parses a name (exact, lower case).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`Action`]s.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Actions(u8);

impl Actions {
    /// No action.
    pub const NONE: Actions = Actions(0);
    /// Every action.
    pub const ALL: Actions = Actions(0b1111);

    /// Whether `a` is in the set.
    pub const fn contains(self, a: Action) -> bool {
        self.0 & a.bit() != 0
    }

    /// Both sets together.
    pub const fn union(self, other: Actions) -> Actions {
        Actions(self.0 | other.0)
    }

    /// What both sets have.
    pub const fn intersection(self, other: Actions) -> Actions {
        Actions(self.0 & other.0)
    }

    /// The set of the named actions; an unknown name is an error.
    pub fn parse<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<Actions, String> {
        names.into_iter().try_fold(Actions::NONE, |set, name| {
            let name = name.as_ref();
            Action::parse(name)
                .map(|a| Actions(set.0 | a.bit()))
                .ok_or_else(|| {
                    format!("unknown action {name:?} (use join, publish, presence, history)")
                })
        })
    }
}

impl fmt::Debug for Actions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(Action::ALL.into_iter().filter(|a| self.contains(*a)))
            .finish()
    }
}

/// The requests in a room the application's backend is asked about first
/// (`hooks = ["join", "publish"]` on a rule; see docs/BACKEND.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HookPoints {
    /// Ask before a join.
    pub join: bool,
    /// Ask before a publish.
    pub publish: bool,
}

impl HookPoints {
    /// No hook.
    pub const NONE: HookPoints = HookPoints {
        join: false,
        publish: false,
    };

    /// The named hooks (`join`, `publish`); another name is an error.
    pub fn parse<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<Self, String> {
        names
            .into_iter()
            .try_fold(Self::NONE, |set, name| match name.as_ref() {
                "join" => Ok(Self { join: true, ..set }),
                "publish" => Ok(Self {
                    publish: true,
                    ..set
                }),
                other => Err(format!(
                    "unknown hook {other:?} (rooms may hook join, publish)"
                )),
            })
    }

    /// Whether any request is hooked.
    pub const fn any(self) -> bool {
        self.join || self.publish
    }
}

/// Longest pattern accepted (room names are at most 100 bytes).
pub const MAX_PATTERN: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    /// This exact segment.
    Literal(String),
    /// A segment starting with this (non-empty) prefix: `game-*`.
    Prefix(String),
    /// Any one segment: `*`.
    One,
    /// One or more segments, only last: `**`.
    Rest,
}

/// A room-name pattern: the name split on `.` into segments, each a
/// literal, `*` (any one segment), `prefix*` (a segment starting with
/// `prefix`), or, as the last segment only, `**` (one or more segments).
/// A pattern never matches a `dm:` room.
///
/// ```
/// use confab_server::policy::Pattern;
/// let p = |s: &str| Pattern::parse(s).unwrap();
/// assert!(p("team.*").matches("team.42") && !p("team.*").matches("team.42.general"));
/// assert!(p("team.**").matches("team.42.general") && !p("team.**").matches("team"));
/// assert!(p("game-*").matches("game-lobby") && !p("game-*").matches("games"));
/// assert!(p("lobby").matches("lobby") && !p("lobby").matches("Lobby"));
/// assert!(!p("**").matches("dm:alice:bob"));
/// assert!(Pattern::parse("a.**.b").is_err() && Pattern::parse("a*b").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    segs: Vec<Seg>,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.text)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Pattern {
    /// Compiles a pattern (see [`Pattern`] for the syntax).
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let bad = |why: &str| Err(format!("room pattern {text:?}: {why}"));
        if text.is_empty() {
            return bad("empty");
        }
        if text.len() > MAX_PATTERN {
            return bad("longer than 100 bytes");
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'*'))
        {
            return bad("only letters, digits, '_', '-', '.' and '*' are allowed");
        }
        let parts: Vec<&str> = text.split('.').collect();
        let last = parts.len() - 1;
        let mut segs = Vec::with_capacity(parts.len());
        for (i, part) in parts.into_iter().enumerate() {
            let seg = match part {
                "*" => Seg::One,
                "**" if i == last => Seg::Rest,
                "**" => return bad("'**' may only be the last segment"),
                p => match p.find('*') {
                    None => Seg::Literal(p.to_owned()),
                    Some(at) if at + 1 == p.len() && at > 0 => Seg::Prefix(p[..at].to_owned()),
                    Some(_) => {
                        return bad("'*' must be a whole segment or end one (`game-*`)");
                    }
                },
            };
            segs.push(seg);
        }
        Ok(Pattern {
            text: text.to_owned(),
            segs,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `room` matches.
    pub fn matches(&self, room: &str) -> bool {
        if dm_members(room).is_some() {
            return false;
        }
        let mut parts = room.split('.');
        for seg in &self.segs {
            match seg {
                Seg::Rest => return parts.next().is_some(),
                _ => {
                    let Some(part) = parts.next() else {
                        return false;
                    };
                    let ok = match seg {
                        Seg::Literal(l) => part == l,
                        Seg::Prefix(p) => part.starts_with(p.as_str()),
                        Seg::One => !part.is_empty(),
                        Seg::Rest => true,
                    };
                    if !ok {
                        return false;
                    }
                }
            }
        }
        parts.next().is_none()
    }
}

/// The rooms a token grants, with the actions for each (its `rooms` claim:
/// `{"team.42.**": ["join", "publish"]}`). Cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants(Arc<[(Pattern, Actions)]>);

/// Most patterns one token may grant.
pub const MAX_GRANTS: usize = 64;

impl Grants {
    /// Grants from a claim's `(pattern, actions)` pairs; a bad pattern, an
    /// unknown action or more than [`MAX_GRANTS`] patterns is an error.
    pub fn from_claim<P, A, S>(claim: impl IntoIterator<Item = (P, A)>) -> Result<Grants, String>
    where
        P: AsRef<str>,
        A: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for (pattern, actions) in claim {
            if out.len() == MAX_GRANTS {
                return Err(format!("more than {MAX_GRANTS} room patterns"));
            }
            out.push((Pattern::parse(pattern.as_ref())?, Actions::parse(actions)?));
        }
        Ok(Grants(out.into()))
    }

    /// Whether there is no grant at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every action granted for `room` (the union over matching patterns).
    pub fn for_room(&self, room: &str) -> Actions {
        (self.0.iter())
            .filter(|(p, _)| p.matches(room))
            .fold(Actions::NONE, |acc, (_, a)| acc.union(*a))
    }

    /// The grants as `(pattern, actions)`.
    pub fn iter(&self) -> impl Iterator<Item = (&Pattern, Actions)> {
        self.0.iter().map(|(p, a)| (p, *a))
    }
}

/// Who is asking: an id, whether a guest, and a token's grants.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    /// User id (`g-…` for guests).
    pub id: &'a str,
    /// A guest (no token).
    pub guest: bool,
    /// The token's grants (none for guests).
    pub grants: &'a Grants,
}

static NO_GRANTS: std::sync::OnceLock<Grants> = std::sync::OnceLock::new();

impl<'a> Who<'a> {
    /// A guest.
    pub fn guest(id: &'a str) -> Self {
        Self {
            id,
            guest: true,
            grants: NO_GRANTS.get_or_init(Grants::default),
        }
    }

    /// A token user with `grants`.
    pub fn user(id: &'a str, grants: &'a Grants) -> Self {
        Self {
            id,
            guest: false,
            grants,
        }
    }
}

/// What one class of users may do in the rooms a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rights {
    /// Guests.
    pub guest: Actions,
    /// Token users (always at least what guests may do).
    pub user: Actions,
    /// The most a grant in the token can add for token users.
    pub granted: Actions,
}

impl Rights {
    /// Everything for everyone: the behaviour without a policy.
    pub const OPEN: Rights = Rights {
        guest: Actions::ALL,
        user: Actions::ALL,
        granted: Actions::ALL,
    };

    /// What `who` may do here, given the grants for this room.
    fn for_who(&self, who: Who<'_>, room: &str) -> Actions {
        if who.guest {
            return self.guest;
        }
        let granted = who.grants.for_room(room).intersection(self.granted);
        self.guest.union(self.user).union(granted)
    }
}

/// One `[[policy.rooms]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The rooms it applies to.
    pub pattern: Pattern,
    /// What it allows.
    pub rights: Rights,
    /// What the backend is asked about first in these rooms.
    pub hooks: HookPoints,
}

/// The room policy: rules tried in order (the first whose pattern matches
/// decides), then the default. `dm:` rooms are only for their two users,
/// whatever the rules say. [`Policy::default`] is open: everyone may do
/// everything everywhere (today's behaviour without a config file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    rules: Vec<Rule>,
    default: Rights,
    default_hooks: HookPoints,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            default: Rights::OPEN,
            default_hooks: HookPoints::NONE,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RightsFile {
    #[serde(default)]
    guest: Vec<String>,
    #[serde(default)]
    user: Vec<String>,
    granted: Option<Vec<String>>,
    #[serde(default)]
    hooks: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default)]
    guest: Vec<String>,
    #[serde(default)]
    user: Vec<String>,
    granted: Option<Vec<String>>,
    #[serde(default)]
    hooks: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    default: Option<RightsFile>,
    #[serde(default)]
    rooms: Vec<RuleFile>,
}

#[derive(Deserialize)]
struct FileWithPolicy {
    policy: Option<toml::Value>,
}

impl RightsFile {
    fn compile(self, what: &str) -> Result<(Rights, HookPoints), String> {
        let err = |e: String| format!("{what}: {e}");
        let guest = Actions::parse(&self.guest).map_err(err)?;
        let user = Actions::parse(&self.user).map_err(err)?;
        let granted = match self.granted {
            None => Actions::ALL,
            Some(g) => Actions::parse(&g).map_err(err)?,
        };
        let hooks = HookPoints::parse(&self.hooks).map_err(err)?;
        let rights = Rights {
            guest,
            user,
            granted,
        };
        Ok((rights, hooks))
    }
}

impl Policy {
    /// The policy of a `[policy]` table (the value under the `policy`
    /// key of a config file).
    pub fn from_toml(value: toml::Value) -> Result<Policy, String> {
        let file: PolicyFile = value
            .try_into()
            .map_err(|e: toml::de::Error| format!("[policy]: {}", e.message()))?;
        let (default, default_hooks) = match file.default {
            None => (Rights::OPEN, HookPoints::NONE),
            Some(d) => d.compile("[policy.default]")?,
        };
        let rules = (file.rooms.into_iter().enumerate())
            .map(|(i, r)| {
                let what = format!("[[policy.rooms]] #{} ({:?})", i + 1, r.pattern);
                let pattern = Pattern::parse(&r.pattern).map_err(|e| format!("{what}: {e}"))?;
                let (rights, hooks) = RightsFile {
                    guest: r.guest,
                    user: r.user,
                    granted: r.granted,
                    hooks: r.hooks,
                }
                .compile(&what)?;
                Ok(Rule {
                    pattern,
                    rights,
                    hooks,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Policy {
            rules,
            default,
            default_hooks,
        })
    }

    /// The policy of a whole config file's text (its `[policy]` table;
    /// other keys are ignored here). No `[policy]`: the open default.
    pub fn from_toml_str(text: &str) -> Result<Policy, String> {
        let file: FileWithPolicy = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        file.policy.map_or(Ok(Policy::default()), Policy::from_toml)
    }

    /// Whether the policy is the open default (no rule, everything allowed).
    pub fn is_open(&self) -> bool {
        *self == Policy::default()
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rights in rooms no rule matches.
    pub fn default_rights(&self) -> Rights {
        self.default
    }

    /// The rights that apply to `room` (the first matching rule's, else
    /// the default's); `None` for a `dm:` room.
    pub fn rights(&self, room: &str) -> Option<&Rights> {
        if dm_members(room).is_some() {
            return None;
        }
        Some(
            (self.rules.iter())
                .find(|r| r.pattern.matches(room))
                .map_or(&self.default, |r| &r.rights),
        )
    }

    /// What the backend is asked about first in `room` (the first matching
    /// rule's `hooks`, else the default's). Never a `dm:` room: those are
    /// only for their two users, whatever the rules say.
    pub fn hooks(&self, room: &str) -> HookPoints {
        if dm_members(room).is_some() {
            return HookPoints::NONE;
        }
        (self.rules.iter())
            .find(|r| r.pattern.matches(room))
            .map_or(self.default_hooks, |r| r.hooks)
    }

    /// Whether any room is hooked (then a `[hooks]` table is needed).
    pub fn has_hooks(&self) -> bool {
        self.default_hooks.any() || self.rules.iter().any(|r| r.hooks.any())
    }

    /// Every action `who` may take in `room`. A `dm:` room: everything for
    /// its two users, nothing for anyone else.
    pub fn actions(&self, who: Who<'_>, room: &str) -> Actions {
        match dm_members(room) {
            Some((a, b)) if a == who.id || b == who.id => Actions::ALL,
            Some(_) => Actions::NONE,
            None => self
                .rights(room)
                .map_or(Actions::NONE, |r| r.for_who(who, room)),
        }
    }

    /// Whether `who` may take `action` in `room`.
    pub fn allows(&self, who: Who<'_>, room: &str, action: Action) -> bool {
        self.actions(who, room).contains(action)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::parse(s).unwrap()
    }

    #[test]
    fn patterns() {
        let cases: &[(&str, &str, bool)] = &[
            ("lobby", "lobby", true),
            ("lobby", "lobby2", false),
            ("lobby", "lobby.x", false),
            ("public.*", "public.chat", true),
            ("public.*", "public", false),
            ("public.*", "public.", false),
            ("public.*", "public.a.b", false),
            ("public.**", "public.a.b", true),
            ("public.**", "public.a", true),
            ("public.**", "public", false),
            ("*", "lobby", true),
            ("*", "a.b", false),
            ("**", "a.b.c", true),
            ("**", "dm:a:b", false),
            ("team.*.general", "team.42.general", true),
            ("team.*.general", "team.42.random", false),
            ("game-*", "game-x", true),
            ("game-*", "game-", true),
            ("game-*", "gamex", false),
            ("team.42-*.**", "team.42-a.b", true),
        ];
        for (pat, room, want) in cases {
            assert_eq!(p(pat).matches(room), *want, "{pat} vs {room}");
        }
        for bad in [
            "",
            "a..**.b",
            "**.a",
            "*x",
            "a*b",
            "a b",
            "dm:a:b",
            &"x".repeat(101),
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn actions_parse() {
        assert_eq!(Actions::parse(["join", "history"]).unwrap().0, 0b1001);
        assert!(Actions::parse(["join", "Join"]).is_err());
        assert!(Actions::parse(["read"]).is_err());
        assert_eq!(Actions::parse(Vec::<String>::new()).unwrap(), Actions::NONE);
    }

    const FILE: &str = r#"
        bind = "127.0.0.1:9"   # other keys are not the policy's business
        [policy.default]
        guest = ["join"]
        user = ["join", "publish"]
        [[policy.rooms]]
        match = "public.*"
        guest = ["join", "publish", "presence", "history"]
        [[policy.rooms]]
        match = "announce.**"
        guest = ["join", "presence", "history"]
        granted = ["publish"]
        [[policy.rooms]]
        match = "team.*.**"
    "#;

    #[test]
    fn the_first_matching_rule_decides_and_users_have_at_least_guest_rights() {
        let policy = Policy::from_toml_str(FILE).unwrap();
        assert!(!policy.is_open());
        let none = Grants::default();
        let all = Grants::from_claim([("**", ["join", "publish", "presence", "history"])]).unwrap();
        let g = Who::guest("g-1");
        let u = Who::user("alice", &none);
        let w = Who::user("bob", &all);
        // Default rights.
        assert_eq!(
            policy.actions(g, "lobby"),
            Actions::parse(["join"]).unwrap()
        );
        assert_eq!(
            policy.actions(u, "lobby"),
            Actions::parse(["join", "publish"]).unwrap()
        );
        assert_eq!(policy.actions(w, "lobby"), Actions::ALL);
        // Users get what guests get.
        assert_eq!(policy.actions(u, "public.x"), Actions::ALL);
        // Announcements: grants add only publish.
        assert!(!policy.allows(u, "announce.news", Action::Publish));
        assert!(policy.allows(w, "announce.news", Action::Publish));
        // Private: only with a grant.
        for a in Action::ALL {
            assert!(!policy.allows(g, "team.1.x", a));
            assert!(!policy.allows(u, "team.1.x", a));
            assert!(policy.allows(w, "team.1.x", a));
        }
        // DM rooms: only their two users.
        assert_eq!(policy.actions(u, "dm:alice:carol"), Actions::ALL);
        assert_eq!(policy.actions(w, "dm:alice:carol"), Actions::NONE);
        assert_eq!(
            policy.actions(Who::guest("g-1"), "dm:g-1:g-2"),
            Actions::ALL
        );
    }

    #[test]
    fn default_is_open() {
        let p = Policy::from_toml_str("bind = \"127.0.0.1:1\"").unwrap();
        assert!(p.is_open());
        assert!(p.allows(Who::guest("g-1"), "anything.at.all", Action::Publish));
    }

    #[test]
    fn hooks_follow_the_first_matching_rule_and_never_dm_rooms() {
        let policy = Policy::from_toml_str(
            r#"
            [policy.default]
            user = ["join"]
            hooks = ["publish"]
            [[policy.rooms]]
            match = "team.**"
            hooks = ["join", "publish"]
            [[policy.rooms]]
            match = "lobby"
            "#,
        )
        .unwrap();
        let both = HookPoints {
            join: true,
            publish: true,
        };
        assert_eq!(policy.hooks("team.42.general"), both);
        assert_eq!(policy.hooks("lobby"), HookPoints::NONE);
        assert_eq!(
            policy.hooks("elsewhere"),
            HookPoints {
                join: false,
                publish: true
            }
        );
        assert_eq!(policy.hooks("dm:alice:bob"), HookPoints::NONE);
        assert!(policy.has_hooks());
        assert!(!Policy::default().has_hooks());
    }

    #[test]
    fn mistakes_in_the_file_are_errors() {
        for (text, needle) in [
            ("[policy]\nroom = []", "unknown field"),
            (
                "[[policy.rooms]]\nmatch = \"a\"\nguest = [\"read\"]",
                "unknown action",
            ),
            ("[[policy.rooms]]\nmatch = \"a*b\"", "room pattern"),
            ("[[policy.rooms]]\nguest = []", "missing field"),
            (
                "[[policy.rooms]]\nmatch = \"a\"\nusers = []",
                "unknown field",
            ),
            (
                "[[policy.rooms]]\nmatch = \"a\"\nhooks = [\"leave\"]",
                "unknown hook",
            ),
        ] {
            let e = Policy::from_toml_str(text).unwrap_err();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn grants_union_and_limits() {
        let g = Grants::from_claim([
            ("team.42.**", vec!["join"]),
            ("team.*.general", vec!["publish"]),
        ])
        .unwrap();
        assert_eq!(
            g.for_room("team.42.general"),
            Actions::parse(["join", "publish"]).unwrap()
        );
        assert_eq!(
            g.for_room("team.7.general"),
            Actions::parse(["publish"]).unwrap()
        );
        let many: Vec<(String, Vec<&str>)> = (0..=MAX_GRANTS)
            .map(|i| (format!("r{i}"), vec!["join"]))
            .collect();
        assert!(Grants::from_claim(many).is_err());
    }
}
