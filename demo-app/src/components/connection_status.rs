use yew::prelude::*;

use crate::hooks::{use_chat, use_countdown};
use crate::state::Link;

/// The connection state in plain words, with a coloured dot. Not a live
/// region: its countdown changes every second; the one status region is
/// the [`super::Announcer`]'s.
#[component]
pub fn ConnectionStatus() -> Html {
    let chat = use_chat();
    let link = chat.state.link.clone();
    let deadline = match &link {
        Link::Reconnecting { retry_at, .. } => Some(*retry_at),
        _ => None,
    };
    let seconds = use_countdown(deadline);
    let (class, text) = match &link {
        Link::Connecting if chat.state.was_open => ("reconnecting", "reconnecting…".to_owned()),
        Link::Connecting => ("connecting", "connecting…".to_owned()),
        Link::Open => ("open", "connected".to_owned()),
        Link::Reconnecting { .. } => match seconds {
            Some(s) if s > 0 => ("reconnecting", format!("reconnecting in {s} s…")),
            _ => ("reconnecting", "reconnecting…".to_owned()),
        },
        Link::Closed { code, reason } if reason.is_empty() => {
            ("closed", format!("server closed the connection ({code})"))
        }
        Link::Closed { code, reason } => (
            "closed",
            format!("server closed the connection ({code}: {reason})"),
        ),
    };
    html! {
        <div class={classes!("status", class)} data-state={class}>
            <span class="status-dot"></span>
            <span class="status-text">{ text }</span>
        </div>
    }
}
