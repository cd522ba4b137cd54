use web_sys::HtmlElement;
use yew::prelude::*;

use super::{ChatHeader, Composer, ConnectionStatus, DicePanel, MessageList, TypingIndicator};
use crate::hooks::{use_chat, use_focus_on_open, use_room};
use crate::state::{Action, ConvKey, Link, LOBBY};

/// Props of [`ChatPane`].
#[derive(Properties, PartialEq)]
pub struct ChatPaneProps {
    /// The conversation to show.
    pub conv: ConvKey,
}

/// The right pane: header, messages, and the write box (or the dice).
/// On a phone, Escape goes back to the list (as the back button does).
#[component]
pub fn ChatPane(props: &ChatPaneProps) -> Html {
    let chat = use_chat();
    let conversation = use_room(props.conv.clone());
    let error = chat.state.error.clone();
    let pane = use_node_ref();
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
    let onkeydown = {
        let pane = pane.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() != "Escape" {
                return;
            }
            // The back button is only shown in the phone layout.
            let back = pane
                .cast::<HtmlElement>()
                .and_then(|p| p.query_selector("button.back").ok().flatten())
                .and_then(|b| wasm_bindgen::JsCast::dyn_into::<HtmlElement>(b).ok())
                .filter(|b| b.offset_parent().is_some());
            if let Some(back) = back {
                e.prevent_default();
                back.click();
            }
        })
    };
    html! {
        <section class="chat" aria-labelledby="chat-title" ref={pane} {onkeydown}>
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
                <Refused {why} />
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
        </section>
    }
}

/// Props of [`Refused`].
#[derive(Properties, PartialEq)]
struct RefusedProps {
    why: AttrValue,
}

/// In place of a room the server refused: why, and the way back to the
/// lobby, which has focus as soon as it is shown (the refusal comes after
/// the pane opened).
#[component]
fn Refused(props: &RefusedProps) -> Html {
    let chat = use_chat();
    let button = use_node_ref();
    use_focus_on_open(button.clone());
    let back_to_lobby = {
        let state = chat.state.clone();
        Callback::from(move |_: MouseEvent| {
            state.dispatch(Action::Open(ConvKey::Room(LOBBY.to_owned())));
        })
    };
    html! {
        <div class="refused" role="alert" data-testid="refused">
            <p class="refused-title">{ props.why.clone() }</p>
            <p>{ "This room is private: ask whoever runs it for access." }</p>
            <button class="send" onclick={back_to_lobby} ref={button}>{ "Back to #lobby" }</button>
        </div>
    }
}
