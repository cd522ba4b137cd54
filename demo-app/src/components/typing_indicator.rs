use yew::prelude::*;

use crate::hooks::{use_chat, use_ticker};
use crate::state::{now_ms, ConvKey};

/// Props of [`TypingIndicator`].
#[derive(Properties, PartialEq)]
pub struct TypingIndicatorProps {
    /// The conversation shown.
    pub conv: ConvKey,
}

/// "Bob is typing…", "Bob and Carol are typing…": who sent a typing
/// signal lately (each shown until [`crate::state::TYPING_TTL_MS`] after
/// their last one). Redraws every half second while someone is typing, so
/// an indicator goes away when its signals stop.
#[component]
pub fn TypingIndicator(props: &TypingIndicatorProps) -> Html {
    let chat = use_chat();
    let conv = chat.state.conversation(&props.conv);
    let names: Vec<String> = conv.map_or_else(Vec::new, |c| {
        c.typists(now_ms()).into_iter().map(str::to_owned).collect()
    });
    use_ticker(!names.is_empty(), 500);
    let text = typing_text(&names);
    html! {
        <div class="typing" data-testid="typing" aria-live="polite">{ text }</div>
    }
}

/// The sentence for who is typing (empty when nobody is).
pub fn typing_text(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        [a, b] => format!("{a} and {b} are typing…"),
        [a, b, rest @ ..] => format!("{a}, {b} and {} more are typing…", rest.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::typing_text;

    #[test]
    fn sentences() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(typing_text(&[]), "");
        assert_eq!(typing_text(&names(&["Bob"])), "Bob is typing…");
        assert_eq!(
            typing_text(&names(&["Bob", "Carol"])),
            "Bob and Carol are typing…"
        );
        assert_eq!(
            typing_text(&names(&["Bob", "Carol", "Dan", "Eve"])),
            "Bob, Carol and 2 more are typing…"
        );
    }
}
