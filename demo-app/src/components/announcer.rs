use yew::prelude::*;

use crate::hooks::use_chat;

/// What a screen reader is told without moving focus, out of sight: the
/// page's heading, the connection in one sentence (one status region,
/// changed only when the kind of state changes, never by the countdown),
/// and a log of announcements (a new message in the conversation on
/// screen, a direct message elsewhere, a roll), each a new keyed node so
/// it is read once. The message list itself is not live: a bubble that
/// changes (sending… → sent) is not read again.
#[component]
pub fn Announcer() -> Html {
    let chat = use_chat();
    let state = &chat.state;
    html! {
        <header class="visually-hidden">
            <h1>{ "Confab chat" }</h1>
            <p role="status" data-testid="link-status">{ state.link_sentence() }</p>
            <div role="log" aria-live="polite" data-testid="announcements">
                { for state.announcements.iter().map(|a| html! { <p key={a.id}>{ a.text.clone() }</p> }) }
            </div>
        </header>
    }
}
