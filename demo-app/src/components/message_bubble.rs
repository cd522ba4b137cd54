use yew::prelude::*;

use crate::format::{clock, die_face};
use crate::state::{Body, Line, Status};

/// Props of [`MessageBubble`].
#[derive(Properties, PartialEq)]
pub struct MessageBubbleProps {
    /// The line.
    pub line: Line,
    /// Sent by me: right side.
    pub mine: bool,
    /// Sender's current name.
    pub sender: AttrValue,
    /// Show the sender's name above the bubble.
    pub show_name: bool,
    /// For a failed line of mine: send it again.
    #[prop_or_default]
    pub on_retry: Option<Callback<MouseEvent>>,
    /// "Seen by Bob, Carol" (or "Seen" in a DM): the last message these
    /// members have read.
    #[prop_or_default]
    pub seen: Option<AttrValue>,
}

/// One message: a bubble (mine right, others left), or a centred notice.
/// Text is always a text node: never parsed as HTML.
#[component]
pub fn MessageBubble(props: &MessageBubbleProps) -> Html {
    let line = &props.line;
    let (status_class, status_text) = match &line.status {
        Status::Pending => ("pending", Some("sending…".to_owned())),
        Status::Sent => ("sent", None),
        Status::Failed(why) => ("failed", Some(format!("not sent: {why}"))),
    };
    let content = match &line.body {
        Body::Notice(text) => {
            return html! { <div class="notice" data-testid="notice">{ text.clone() }</div> };
        }
        Body::Text(text) => html! { <div class="text">{ text.clone() }</div> },
        Body::Dice { text, position } => html! {
            <div class="text dice-line" data-position={position.to_string()}>
                <span class="die" aria-hidden="true">{ die_face(*position) }</span>
                { format!("{text}: {position}") }
            </div>
        },
    };
    html! {
        <div
            class={classes!("msg", if props.mine { "mine" } else { "theirs" }, status_class, props.show_name.then_some("first"))}
            data-from={props.sender.clone()}
            data-status={status_class}
        >
            if props.show_name {
                <div class="sender">{ props.sender.clone() }</div>
            }
            <div class="bubble">
                { content }
                <div class="meta">
                    <time>{ clock(line.ts) }</time>
                    if props.mine {
                        <span class="tick" title={status_class}>{ if line.status == Status::Sent { "✓" } else { "" } }</span>
                    }
                </div>
            </div>
            if let Some(t) = status_text {
                <div class="status-line">
                    { t }
                    if let Some(onclick) = props.on_retry.clone() {
                        <button class="retry" {onclick}>{ "Retry" }</button>
                    }
                </div>
            }
            if let Some(seen) = props.seen.clone() {
                <div class="seen" data-testid="seen">{ seen }</div>
            }
        </div>
    }
}
