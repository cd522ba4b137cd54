use yew::prelude::*;

use super::Avatar;
use crate::hooks::use_chat;
use crate::state::{Action, ConvKey, Link};

/// Props of [`ChatHeader`].
#[derive(Properties, PartialEq)]
pub struct ChatHeaderProps {
    /// The conversation shown.
    pub conv: ConvKey,
}

/// "To: <room or person>", with who is there, and the phone back button.
#[component]
pub fn ChatHeader(props: &ChatHeaderProps) -> Html {
    let chat = use_chat();
    let state = &chat.state;
    let title = state.title(&props.conv);
    let (seed, glyph, subtitle) = match &props.conv {
        ConvKey::Room(_) if state.link != Link::Open => (
            title.clone(),
            Some("#"),
            "presence unknown while offline".to_owned(),
        ),
        ConvKey::Room(name) => {
            let n = state
                .people
                .values()
                .filter(|p| p.rooms.contains(name))
                .count();
            (title.clone(), Some("#"), format!("{n} here"))
        }
        ConvKey::Dm(id) => {
            let online = state.people.get(id).is_some_and(|p| p.online());
            (
                id.clone(),
                None,
                if online {
                    "online".to_owned()
                } else {
                    "offline".to_owned()
                },
            )
        }
        ConvKey::Game => {
            let status = state
                .conversation(&ConvKey::Game)
                .and_then(|c| c.game_status.clone())
                .unwrap_or_else(|| "waiting for the server…".to_owned());
            (title.clone(), Some("⚄"), status)
        }
    };
    let back = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| state.dispatch(Action::ShowList(true)))
    };
    let unread: u32 = state
        .conversations
        .iter()
        .filter(|c| c.key != props.conv)
        .map(|c| c.unread)
        .sum();
    let back_label = if unread > 0 {
        format!("Show conversations ({unread} unread)")
    } else {
        "Show conversations".to_owned()
    };
    html! {
        <header class="chat-header">
            <button class="back" onclick={back} aria-label={back_label} aria-keyshortcuts="Escape">
                <span aria-hidden="true">{ "‹" }</span>
                if unread > 0 { <span class="badge" aria-hidden="true">{ unread }</span> }
            </button>
            <Avatar name={title.clone()} {seed} glyph={glyph.map(AttrValue::from)} />
            <div class="chat-title">
                <h2 class="to" id="chat-title"><span class="to-label">{ "To: " }</span><span data-testid="chat-title" dir="auto">{ title }</span></h2>
                <div class="chat-sub">{ subtitle }</div>
            </div>
        </header>
    }
}
