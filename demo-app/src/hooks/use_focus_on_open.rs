use web_sys::HtmlElement;
use yew::prelude::*;

use super::use_chat;

/// Focuses `node` when its conversation opens: when the component mounts
/// (a conversation picked, the chat after "Start chatting") and, on a
/// phone, when the conversation pane is shown again. Focus then never
/// drops to the page's `<body>`.
#[hook]
pub fn use_focus_on_open(node: NodeRef) {
    let chat = use_chat();
    let shown = !chat.state.list_open;
    use_effect_with(shown, move |shown| {
        if *shown {
            if let Some(el) = node.cast::<HtmlElement>() {
                let _ = el.focus();
            }
        }
    });
}
