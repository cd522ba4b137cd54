use yew::prelude::*;

use super::{Announcer, ChatPane, Sidebar};
use crate::hooks::{use_chat, use_document_title};
use crate::state::Link;

/// The two-pane window; on a phone one pane at a time. The window is the
/// page's one `main` landmark (on a phone either pane may be the one
/// shown); the panes are regions inside it.
#[component]
pub fn ChatWindow() -> Html {
    let chat = use_chat();
    use_document_title(chat.state.document_title());
    let list_open = chat.state.list_open;
    let link = match chat.state.link {
        Link::Open => "open",
        Link::Connecting if !chat.state.was_open => "connecting",
        Link::Connecting | Link::Reconnecting { .. } => "reconnecting",
        Link::Closed { .. } => "closed",
    };
    html! {
        <main class={classes!("app", list_open.then_some("show-list"))} data-link={link}>
            <Announcer />
            <Sidebar />
            <ChatPane key={chat.state.active.dom_key()} conv={chat.state.active.clone()} />
        </main>
    }
}
