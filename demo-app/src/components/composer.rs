use confab_protocol::normalize_display_name;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use crate::hooks::{use_chat, use_focus_on_open};
use crate::state::{Action, ConvKey};

/// Props of [`Composer`].
#[derive(Properties, PartialEq)]
pub struct ComposerProps {
    /// Where the text goes.
    pub conv: ConvKey,
}

/// The write box: a text area that grows with its text (up to a few
/// lines, then it scrolls); Enter or Send sends, Shift+Enter starts a new
/// line, `/name NEW` renames. Focused when the conversation opens.
#[component]
pub fn Composer(props: &ComposerProps) -> Html {
    let chat = use_chat();
    let input = use_node_ref();
    use_focus_on_open(input.clone());

    let send = {
        let (chat, input, conv) = (chat.clone(), input.clone(), props.conv.clone());
        Callback::from(move |()| {
            let Some(el) = input.cast::<HtmlTextAreaElement>() else {
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
            fit(&el);
            let _ = el.focus();
        })
    };
    let onsubmit = send.reform(|e: SubmitEvent| e.prevent_default());
    let onkeydown = {
        let send = send.clone();
        Callback::from(move |e: KeyboardEvent| {
            // Not while an input method is composing a character.
            if e.key() == "Enter" && !e.shift_key() && !e.is_composing() {
                e.prevent_default();
                send.emit(());
            }
        })
    };
    // Short enough for a phone; the /name hint is the box's tooltip
    // (and on the first visit's name prompt).
    let placeholder = match &props.conv {
        ConvKey::Dm(id) => format!("Message {}", chat.state.name_of(id, id)),
        other => format!("Message {}", chat.state.title(other)),
    };
    // Typing signals (throttled by the connection); an emptied box stops.
    let oninput = {
        let (conn, conv) = (chat.conn.clone(), props.conv.clone());
        Callback::from(move |e: InputEvent| {
            let el: HtmlTextAreaElement = e.target_unchecked_into();
            fit(&el);
            conn.typing(&conv, !el.value().trim().is_empty());
        })
    };
    html! {
        <form class="composer" {onsubmit}>
            <textarea
                ref={input}
                rows="1"
                {placeholder}
                title="Enter sends, Shift+Enter starts a new line · /name NEW renames you"
                aria-label="Message"
                aria-keyshortcuts="Enter Shift+Enter"
                autocomplete="off"
                maxlength="4000"
                enterkeyhint="send"
                dir="auto"
                {oninput}
                {onkeydown}
            />
            <button type="submit" class="send">{ "Send" }</button>
        </form>
    }
}

/// Grows (or shrinks) the box to its text; CSS caps the height, then it
/// scrolls.
fn fit(el: &HtmlTextAreaElement) {
    let style = el.style();
    let _ = style.set_property("height", "auto");
    // The text's height plus the borders (the box sizes its border box).
    let borders = el.offset_height() - el.client_height();
    let _ = style.set_property("height", &format!("{}px", el.scroll_height() + borders));
}
