use confab_protocol::normalize_display_name;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::hooks::use_chat;
use crate::state::{Action, ConvKey};

/// Props of [`Composer`].
#[derive(Properties, PartialEq)]
pub struct ComposerProps {
    /// Where the text goes.
    pub conv: ConvKey,
}

/// The write box: input, Send button, Enter to send, `/name NEW` to rename.
#[component]
pub fn Composer(props: &ComposerProps) -> Html {
    let chat = use_chat();
    let input = use_node_ref();

    let submit = {
        let (chat, input, conv) = (chat.clone(), input.clone(), props.conv.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(el) = input.cast::<HtmlInputElement>() else {
                return;
            };
            let text = el.value();
            let text = text.trim();
            if text.is_empty() {
                return;
            }
            if let Some(rest) = text.strip_prefix("/name") {
                match normalize_display_name(rest) {
                    Some(name) if rest.starts_with(' ') => chat.conn.rename(name.to_owned()),
                    _ => chat.state.dispatch(Action::Error(Some(
                        "usage: /name NEW (1–64 characters)".to_owned(),
                    ))),
                }
            } else {
                chat.conn.send(&conv, text.to_owned());
            }
            el.set_value("");
            let _ = el.focus();
        })
    };
    // Short enough for a phone; the /name hint is the input's tooltip
    // (and on the first visit's name prompt).
    let placeholder = match &props.conv {
        ConvKey::Dm(id) => format!("Message {}", chat.state.name_of(id, id)),
        other => format!("Message {}", chat.state.title(other)),
    };
    // Typing signals (throttled by the connection); an emptied box stops.
    let oninput = {
        let (conn, conv) = (chat.conn.clone(), props.conv.clone());
        Callback::from(move |e: InputEvent| {
            let el: HtmlInputElement = e.target_unchecked_into();
            conn.typing(&conv, !el.value().trim().is_empty());
        })
    };
    html! {
        <form class="composer" onsubmit={submit}>
            <input
                ref={input}
                type="text"
                {placeholder}
                title="Enter sends · /name NEW renames you"
                aria-label="Message"
                autocomplete="off"
                maxlength="4000"
                enterkeyhint="send"
                {oninput}
            />
            <button type="submit" class="send">{ "Send" }</button>
        </form>
    }
}
