use yew::prelude::*;

use super::{ChatHeader, Composer, ConnectionStatus, DicePanel, MessageList, TypingIndicator};
use crate::hooks::{use_chat, use_room};
use crate::state::{Action, ConvKey, Link, LOBBY};

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
    let back_to_lobby = {
        let state = chat.state.clone();
        Callback::from(move |_: MouseEvent| {
            state.dispatch(Action::Open(ConvKey::Room(LOBBY.to_owned())));
        })
    };
    // What is on screen is read: the reducer moves my read offset, this
    // tells the room (my other devices, others' "Seen by").
    let read = conversation.as_ref().map_or(0, |c| c.read);
    {
        let (conn, conv) = (chat.conn.clone(), props.conv.clone());
        let on_screen = !chat.state.list_open && chat.state.link == Link::Open;
        use_effect_with((read, on_screen), move |(read, on_screen)| {
            if *on_screen && *read > 0 {
                conn.mark_read(&conv, *read);
            }
            || ()
        });
    }
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
            if let Some(why) = conversation.as_ref().and_then(|c| c.refused.clone()) {
                <div class="refused" role="alert" data-testid="refused">
                    <p class="refused-title">{ why }</p>
                    <p>{ "This room is private: ask whoever runs it for access." }</p>
                    <button class="send" onclick={back_to_lobby}>{ "Back to #lobby" }</button>
                </div>
            } else {
                if let Some(c) = conversation {
                    <MessageList conversation={c} />
                }
                if props.conv == ConvKey::Game {
                <DicePanel />
            } else {
                <TypingIndicator conv={props.conv.clone()} />
                <Composer conv={props.conv.clone()} />
                }
            }
        </main>
    }
}
