use yew::prelude::*;

use super::{ChatHeader, Composer, ConnectionStatus, DicePanel, MessageList};
use crate::hooks::{use_chat, use_room};
use crate::state::{ConvKey, Link};

/// Props of [`ChatPane`].
#[derive(Properties, PartialEq)]
pub struct ChatPaneProps {
    /// The conversation to show.
    pub conv: ConvKey,
}

/// The right pane: header, messages, and the write box (or the dice).
#[component]
pub fn ChatPane(props: &ChatPaneProps) -> Html {
    let chat = use_chat();
    let conversation = use_room(props.conv.clone());
    let error = chat.state.error.clone();
    html! {
        <main class="chat" aria-label="Conversation">
            <ChatHeader conv={props.conv.clone()} />
            if chat.state.link != Link::Open {
                <div class="offline">
                    <ConnectionStatus />
                    <span class="offline-hint">{ "Messages you send now are queued and go out when the connection is back." }</span>
                </div>
            }
            if let Some(e) = error {
                <div class="error" role="alert">{ e }</div>
            }
            if let Some(c) = conversation {
                <MessageList conversation={c} />
            }
            if props.conv == ConvKey::Game {
                <DicePanel />
            } else {
                <Composer conv={props.conv.clone()} />
            }
        </main>
    }
}
