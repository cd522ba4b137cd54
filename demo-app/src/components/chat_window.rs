use yew::prelude::*;

use super::{ChatPane, Sidebar};
use crate::hooks::use_chat;

/// The two-pane window; on a phone one pane at a time.
#[component]
pub fn ChatWindow() -> Html {
    let chat = use_chat();
    let list_open = chat.state.list_open;
    html! {
        <div class={classes!("app", list_open.then_some("show-list"))}>
            <Sidebar />
            <ChatPane key={format!("{:?}", chat.state.active)} conv={chat.state.active.clone()} />
        </div>
    }
}
