//! Hooks: the application's backend decides, before Confab acts, whether
//! a user may connect, join a room or publish to it, and may change what
//! happens (who the user is and what they may do, the member's info in a
//! room, the payload stored). Configured by the `[hooks]` table of the
//! `--config` file and `hooks = [...]` on `[[policy.rooms]]` rules; the
//! contract is in docs/BACKEND.md.
//!
//! Each hook is one signed `POST` ([`super::sign`]) answered with
//! `{"result": "allow" | "deny" | "modify", ...}`. A backend that times
//! out, answers anything but 200 or answers something else is
//! *unavailable*: the request is refused with `hook_unavailable` (or let
//! through with `fail_open`). At most `concurrency` hook requests are in
//! flight per node; a request waiting for its turn counts against its
//! timeout, so a slow backend slows hooked requests only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use confab_protocol::{ErrorCode, Json, Member};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::Semaphore;

use super::sign;
use crate::auth::{display_name, is_reserved_id, valid_user_id, Identity, MAX_INFO_BYTES};
use crate::limits::{nesting_exceeds, MAX_PAYLOAD_DEPTH};
use crate::policy::Grants;

/// The largest answer read from the backend; a longer one is unavailable.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// Longest `code` of a `deny`.
pub const MAX_DENY_CODE: usize = 64;
/// Longest `message` of a `deny`, in characters (longer is cut).
pub const MAX_DENY_MESSAGE: usize = 200;

/// The `[hooks]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSettings {
    /// Where hooks are posted.
    pub url: String,
    /// The longest a hook may take, waiting for its turn included.
    pub timeout: Duration,
    /// Hook requests in flight at once on this node.
    pub concurrency: usize,
    /// When the backend cannot be asked: go ahead as if allowed.
    pub fail_open: bool,
    /// Ask at every WebSocket connection.
    pub connect: bool,
    /// Request headers (lower case) the connect hook forwards, e.g. `cookie`.
    pub headers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HooksFile {
    url: String,
    timeout_ms: Option<u64>,
    concurrency: Option<usize>,
    #[serde(default)]
    fail_open: bool,
    #[serde(default)]
    connect: bool,
    #[serde(default)]
    headers: Vec<String>,
}

impl HookSettings {
    /// The settings of a `[hooks]` table.
    pub fn from_toml(value: toml::Value) -> Result<Self, String> {
        let file: HooksFile = value
            .try_into()
            .map_err(|e: toml::de::Error| format!("[hooks]: {}", e.message()))?;
        let url = reqwest::Url::parse(&file.url)
            .map_err(|e| format!("[hooks] url {:?}: {e}", file.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("[hooks] url {:?}: not http(s)", file.url));
        }
        let headers = (file.headers.iter())
            .map(|h| {
                axum::http::HeaderName::from_bytes(h.as_bytes())
                    .map(|n| n.as_str().to_owned())
                    .map_err(|_| format!("[hooks] headers: {h:?} is not a header name"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            url: file.url,
            timeout: Duration::from_millis(file.timeout_ms.unwrap_or(2_000).max(1)),
            concurrency: file.concurrency.unwrap_or(64).max(1),
            fail_open: file.fail_open,
            connect: file.connect,
            headers,
        })
    }
}

/// A hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// A WebSocket connection is being opened.
    Connect,
    /// A user is joining a room.
    Join,
    /// A user is publishing to a room.
    Publish,
}

impl Hook {
    /// Every hook.
    pub const ALL: [Hook; 3] = [Hook::Connect, Hook::Join, Hook::Publish];

    /// Its name in requests and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Join => "join",
            Self::Publish => "publish",
        }
    }
}

/// How a hook request ended (the `outcome` label of the metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `allow`.
    Allow,
    /// `deny`.
    Deny,
    /// `modify`.
    Modify,
    /// The backend could not be asked, or its answer was not one of these.
    Unavailable,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 4] = [
        Outcome::Allow,
        Outcome::Deny,
        Outcome::Modify,
        Outcome::Unavailable,
    ];

    /// Its name in metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Modify => "modify",
            Self::Unavailable => "unavailable",
        }
    }
}

/// Why a hooked request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The backend said no.
    Denied {
        /// Its code (letters, digits, `_ . -`).
        code: String,
        /// Its message (may be empty).
        message: String,
    },
    /// The backend could not be asked (and `fail_open` is off).
    Unavailable,
}

impl Refusal {
    /// The error code a client is given.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Denied { .. } => ErrorCode::HookDenied,
            Self::Unavailable => ErrorCode::HookUnavailable,
        }
    }

    /// What a client is told: `"<code>: <message>"` for a deny.
    pub fn message(&self) -> String {
        match self {
            Self::Denied { code, message } if message.is_empty() => code.clone(),
            Self::Denied { code, message } => format!("{code}: {message}"),
            Self::Unavailable => {
                "the application could not be asked; nothing happened, try again later".to_owned()
            }
        }
    }
}

/// What a connect hook changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectChange {
    /// The user's new id (a guest becomes this user).
    pub id: Option<String>,
    /// Their display name.
    pub name: Option<String>,
    /// Their info.
    pub info: Option<Json>,
    /// Their room grants (replacing the token's).
    pub grants: Option<Grants>,
}

impl ConnectChange {
    /// `identity` as changed.
    pub fn apply(self, identity: &mut Identity) {
        if let Some(id) = self.id {
            if id != identity.member.id {
                identity.member.id = id;
                identity.guest = false;
            }
        }
        if let Some(name) = self.name {
            identity.member.name = name;
        }
        if let Some(info) = self.info {
            identity.member.info = Some(info);
        }
        if let Some(grants) = self.grants {
            identity.grants = grants;
        }
    }
}

#[derive(Serialize)]
struct Request<'a> {
    hook: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
    user: &'a Member,
    #[serde(skip_serializing_if = "Option::is_none")]
    guest: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<BTreeMap<&'a str, &'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a RawValue>,
}

impl<'a> Request<'a> {
    fn new(hook: Hook, user: &'a Member) -> Self {
        Self {
            hook: hook.as_str(),
            room: None,
            user,
            guest: None,
            ip: None,
            headers: None,
            payload: None,
        }
    }
}

#[derive(Deserialize)]
struct UserPatch {
    id: Option<String>,
    name: Option<String>,
    info: Option<Box<RawValue>>,
}

/// An answer as sent; which fields a `modify` may carry depends on the hook.
#[derive(Deserialize)]
struct Answer {
    result: String,
    code: Option<String>,
    message: Option<String>,
    user: Option<UserPatch>,
    grants: Option<BTreeMap<String, Vec<String>>>,
    info: Option<Box<RawValue>>,
    payload: Option<Box<RawValue>>,
}

/// What the backend answered; a `modify` is read by the hook that asked.
enum Reply {
    Allow,
    Deny(Refusal),
    Modify(Answer),
}

/// The hook client of one node.
#[derive(Debug)]
pub struct Hooks {
    settings: HookSettings,
    secret: String,
    client: reqwest::Client,
    turns: Semaphore,
    counts: [[AtomicU64; Outcome::ALL.len()]; Hook::ALL.len()],
}

impl Hooks {
    /// A client for `settings`, signing with `secret`.
    pub fn new(settings: HookSettings, secret: String) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            // A redirect is an answer other than 200: unavailable.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("hooks: cannot build the HTTP client: {e}"))?;
        Ok(Self {
            turns: Semaphore::new(settings.concurrency),
            settings,
            secret,
            client,
            counts: Default::default(),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &HookSettings {
        &self.settings
    }

    /// The connect hook, when configured (`connect = true`): `None` when
    /// nothing changes. `headers` are the handshake's; the configured ones
    /// are forwarded.
    pub async fn connect(
        &self,
        identity: &Identity,
        ip: Option<std::net::IpAddr>,
        headers: &axum::http::HeaderMap,
    ) -> Result<Option<ConnectChange>, Refusal> {
        let forwarded = (self.settings.headers.iter())
            .filter_map(|name| Some((name.as_str(), headers.get(name)?.to_str().ok()?)))
            .collect::<BTreeMap<_, _>>();
        let request = Request {
            guest: Some(identity.is_guest()),
            ip: ip.map(|ip| ip.to_string()),
            headers: (!forwarded.is_empty()).then_some(forwarded),
            ..Request::new(Hook::Connect, &identity.member)
        };
        self.ask(Hook::Connect, &request, connect_change).await
    }

    /// The join hook: the member's info in `room` when the backend set one.
    pub async fn join(&self, room: &str, member: &Member) -> Result<Option<Json>, Refusal> {
        let request = Request {
            room: Some(room),
            ..Request::new(Hook::Join, member)
        };
        self.ask(Hook::Join, &request, |answer| {
            if answer.user.is_some() || answer.grants.is_some() || answer.payload.is_some() {
                return Err("a join hook may only modify info".to_owned());
            }
            (answer.info)
                .and_then(|i| member_info(&i))
                .ok_or_else(|| "info must be JSON of at most 1 KiB".to_owned())
        })
        .await
    }

    /// The publish hook: the payload to store instead, when the backend
    /// set one (at most `max_bytes`).
    pub async fn publish(
        &self,
        room: &str,
        member: &Member,
        payload: &RawValue,
        max_bytes: usize,
    ) -> Result<Option<Box<RawValue>>, Refusal> {
        let request = Request {
            room: Some(room),
            payload: Some(payload),
            ..Request::new(Hook::Publish, member)
        };
        self.ask(Hook::Publish, &request, |answer| {
            if answer.user.is_some() || answer.grants.is_some() || answer.info.is_some() {
                return Err("a publish hook may only modify payload".to_owned());
            }
            match answer.payload {
                Some(p) if p.get().len() > max_bytes => {
                    Err(format!("the payload is over {max_bytes} bytes"))
                }
                Some(p) if nesting_exceeds(p.get(), MAX_PAYLOAD_DEPTH) => {
                    Err("the payload nests too deep".to_owned())
                }
                Some(p) => Ok(p),
                None => Err("a modify must set payload".to_owned()),
            }
        })
        .await
    }

    /// Posts one hook: `Ok(None)` to go ahead unchanged, `Ok(Some(..))`
    /// for a `modify` that `modify` accepts, else the refusal. A backend
    /// that cannot be asked, or a `modify` that `modify` rejects, is
    /// unavailable: refused, or with `fail_open` let through unchanged.
    async fn ask<T>(
        &self,
        hook: Hook,
        request: &Request<'_>,
        modify: impl FnOnce(Answer) -> Result<T, String>,
    ) -> Result<Option<T>, Refusal> {
        let reply = match serde_json::to_vec(request) {
            Ok(body) => tokio::time::timeout(self.settings.timeout, self.post(body))
                .await
                .unwrap_or_else(|_| Err("timed out".to_owned())),
            Err(e) => Err(format!("cannot encode the request: {e}")),
        };
        let decided = reply.and_then(|reply| match reply {
            Reply::Allow => Ok((Outcome::Allow, Ok(None))),
            Reply::Deny(refusal) => Ok((Outcome::Deny, Err(refusal))),
            Reply::Modify(answer) => modify(answer).map(|t| (Outcome::Modify, Ok(Some(t)))),
        });
        let (outcome, result) = decided.unwrap_or_else(|why| {
            let fail_open = self.settings.fail_open;
            tracing::warn!(hook = hook.as_str(), why, fail_open, "hook unavailable");
            let result = if fail_open {
                Ok(None)
            } else {
                Err(Refusal::Unavailable)
            };
            (Outcome::Unavailable, result)
        });
        self.count(hook, outcome);
        result
    }

    /// One request, after waiting for a turn: the backend's reply, or why
    /// there is none.
    async fn post(&self, body: Vec<u8>) -> Result<Reply, String> {
        let _turn = (self.turns.acquire().await).map_err(|_| "closed".to_owned())?;
        let request = sign::signed(self.client.post(&self.settings.url), &self.secret, body);
        let mut response = request.send().await.map_err(|e| e.to_string())?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("answered {}", response.status()));
        }
        let mut text = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if text.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(format!("answer over {MAX_ANSWER_BYTES} bytes"));
            }
            text.extend_from_slice(&chunk);
        }
        let answer: Answer =
            serde_json::from_slice(&text).map_err(|e| format!("answer is not JSON: {e}"))?;
        match answer.result.as_str() {
            "allow" => Ok(Reply::Allow),
            "modify" => Ok(Reply::Modify(answer)),
            "deny" => Ok(Reply::Deny(denied(answer.code, answer.message))),
            other => Err(format!("unknown result {other:?}")),
        }
    }

    fn count(&self, hook: Hook, outcome: Outcome) {
        let h = Hook::ALL.iter().position(|x| *x == hook);
        let o = Outcome::ALL.iter().position(|x| *x == outcome);
        if let (Some(h), Some(o)) = (h, o) {
            self.counts[h][o].fetch_add(1, Relaxed);
        }
    }

    /// `confab_hook_requests_total{hook, outcome}` in Prometheus text.
    pub fn render_metrics(&self, out: &mut String) {
        out.push_str("# HELP confab_hook_requests_total Hook requests to the backend, by hook and outcome.\n");
        out.push_str("# TYPE confab_hook_requests_total counter\n");
        for (hook, row) in Hook::ALL.iter().zip(&self.counts) {
            for (outcome, n) in Outcome::ALL.iter().zip(row) {
                let _ = writeln!(
                    out,
                    "confab_hook_requests_total{{hook=\"{}\",outcome=\"{}\"}} {}",
                    hook.as_str(),
                    outcome.as_str(),
                    n.load(Relaxed)
                );
            }
        }
    }
}

/// What a connect hook's `modify` changes: `user` (`id`, `name`, `info`)
/// and `grants`, each checked as a token's claims are.
fn connect_change(answer: Answer) -> Result<ConnectChange, String> {
    if answer.info.is_some() || answer.payload.is_some() {
        return Err("a connect hook may only modify user and grants".to_owned());
    }
    let mut change = ConnectChange::default();
    if let Some(user) = answer.user {
        if let Some(id) = user.id {
            if !valid_user_id(&id) || is_reserved_id(&id) {
                return Err(format!("user.id {id:?} is not a valid, unreserved user id"));
            }
            change.id = Some(id);
        }
        if let Some(name) = user.name {
            change.name = Some(display_name(&name).ok_or("user.name is not a valid name")?);
        }
        if let Some(info) = user.info {
            change.info =
                Some(member_info(&info).ok_or("user.info must be JSON of at most 1 KiB")?);
        }
    }
    if let Some(grants) = answer.grants {
        change.grants = Some(Grants::from_claim(grants)?);
    }
    Ok(change)
}

/// A `deny`'s refusal: the code kept to letters, digits and `_ . -` (else
/// `denied`), the message to one line of [`MAX_DENY_MESSAGE`] characters.
fn denied(code: Option<String>, message: Option<String>) -> Refusal {
    let code = code
        .filter(|c| {
            !c.is_empty()
                && c.len() <= MAX_DENY_CODE
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        })
        .unwrap_or_else(|| "denied".to_owned());
    let message = (message.unwrap_or_default().chars())
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_DENY_MESSAGE)
        .collect::<String>()
        .trim()
        .to_owned();
    Refusal::Denied { code, message }
}

/// Member info from an answer: JSON of at most [`MAX_INFO_BYTES`], not
/// nested too deep (`null` is no info).
fn member_info(raw: &RawValue) -> Option<Json> {
    let text = raw.get();
    if text.len() > MAX_INFO_BYTES || nesting_exceeds(text, MAX_PAYLOAD_DEPTH) {
        return None;
    }
    Json::parse(text).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let parse = |t: &str| HookSettings::from_toml(toml::from_str::<toml::Value>(t).unwrap());
        let s = parse("url = \"http://127.0.0.1:9/h\"\nheaders = [\"Cookie\"]").unwrap();
        assert_eq!(s.timeout, Duration::from_secs(2));
        assert_eq!(s.concurrency, 64);
        assert!(!s.fail_open && !s.connect);
        assert_eq!(s.headers, ["cookie"]);
        for (bad, needle) in [
            ("url = \"ftp://x/\"", "not http"),
            ("url = \"nope\"", "url"),
            ("url = \"http://x/\"\ntimeout = 3", "unknown field"),
            ("url = \"http://x/\"\nheaders = [\"a b\"]", "header name"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn a_deny_is_kept_to_one_safe_line() {
        let r = denied(
            Some("not_a_member".into()),
            Some("you are\nnot in team 42".into()),
        );
        assert_eq!(r.message(), "not_a_member: you are not in team 42");
        let r = denied(Some("<script>".into()), Some("x".repeat(500)));
        let Refusal::Denied { code, message } = &r else {
            unreachable!()
        };
        assert_eq!(code, "denied");
        assert_eq!(message.chars().count(), MAX_DENY_MESSAGE);
        assert_eq!(denied(None, None).message(), "denied");
        assert_eq!(r.code(), ErrorCode::HookDenied);
        assert_eq!(Refusal::Unavailable.code(), ErrorCode::HookUnavailable);
    }

    #[test]
    fn requests_carry_what_the_contract_says() {
        let mut alice = Member::new("alice", "Alice");
        alice.info = Some(Json::parse(r#"{"avatar":"a.png"}"#).unwrap());
        let payload = RawValue::from_string(r#"{"message":"hi"}"#.into()).unwrap();
        let request = Request {
            room: Some("team.42"),
            payload: Some(&payload),
            ..Request::new(Hook::Publish, &alice)
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"hook":"publish","room":"team.42","user":{"id":"alice","name":"Alice","info":{"avatar":"a.png"}},"payload":{"message":"hi"}}"#
        );
    }
}
