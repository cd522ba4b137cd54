use std::rc::Rc;

use yew::prelude::*;

use super::MessageBubble;
use crate::format::divider_time;
use crate::hooks::{use_auto_scroll, use_chat};
use crate::state::{Body, ConvKey, Conversation, Line, LineKey, Older, Status};

/// Props of [`MessageList`].
#[derive(Properties)]
pub struct MessageListProps {
    /// The conversation to show.
    pub conversation: Rc<Conversation>,
}

impl PartialEq for MessageListProps {
    /// The same `Rc`: the reducer copies a conversation when it changes
    /// it, so an unchanged pointer is an unchanged conversation.
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.conversation, &other.conversation)
    }
}

/// Two lines closer than this (ms) from the same sender form a group.
const GROUP_MS: f64 = 5.0 * 60.0 * 1000.0;

fn same_group(prev: Option<&Line>, line: &Line) -> bool {
    prev.is_some_and(|p| {
        p.from.id == line.from.id && !matches!(p.body, Body::Notice(_)) && line.ts - p.ts < GROUP_MS
    })
}

/// The scrolling list of bubbles under the conversation's top divider
/// (its beginning, or older messages to scroll to); follows new messages
/// unless the person scrolled up; scrolling to the top loads older ones;
/// "Seen by …" under the last message each member has read.
#[component]
pub fn MessageList(props: &MessageListProps) -> Html {
    let chat = use_chat();
    let state = &chat.state;
    let c = &props.conversation;
    let on_top = {
        let (conn, c) = (chat.conn.clone(), Rc::clone(c));
        Callback::from(move |()| {
            if let (true, Some(before)) = (c.can_load_older(), c.oldest_offset()) {
                conn.load_older(&c.key, before);
            }
        })
    };
    let first = c.lines.first().map(|l| l.key.dom_key().to_string());
    let scroll = use_auto_scroll(c.lines.len(), first, on_top);
    let dm = matches!(c.key, ConvKey::Dm(_));

    let mut prev: Option<&Line> = None;
    let bubbles = c
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let mine = state.is_mine(&line.from);
            let first_of_group = !same_group(prev, line);
            prev = Some(line);
            let name = state.label_of(&line.from.id, &line.from.name);
            let on_retry = match (&line.key, &line.status, &line.body) {
                (LineKey::Local(id), Status::Failed(_), Body::Text(text)) => {
                    let (conn, conv, id, text) =
                        (chat.conn.clone(), c.key.clone(), *id, text.clone());
                    Some(Callback::from(move |_: MouseEvent| {
                        conn.retry(&conv, id, text.clone())
                    }))
                }
                _ => None,
            };
            let mut readers: Vec<String> = c
                .seen_at(i)
                .into_iter()
                .filter(|id| !state.is_my_id(id))
                .map(|id| state.label_of(id, id))
                .collect();
            readers.sort_by_key(|n| n.to_lowercase());
            let seen = (!readers.is_empty()).then(|| {
                if dm {
                    AttrValue::from("Seen")
                } else {
                    AttrValue::from(format!("Seen by {}", readers.join(", ")))
                }
            });
            html! {
                <MessageBubble
                    key={line.key.dom_key()}
                    line={line.clone()}
                    {mine}
                    sender={name}
                    show_name={first_of_group && !mine}
                    {on_retry}
                    {seen}
                />
            }
        })
        .collect::<Html>();

    let divider = if c.at_beginning() {
        html! {
            <div class="divider beginning" data-testid="conversation-start" data-beginning="true">
                <span>{ format!("Beginning of the conversation · {}", divider_time(c.started_at())) }</span>
            </div>
        }
    } else if c.older == Older::Loading {
        html! { <div class="divider" data-testid="conversation-start"><span>{ "Loading older messages…" }</span></div> }
    } else if c.can_load_older() {
        html! { <div class="divider" data-testid="conversation-start"><span>{ "Scroll up for older messages" }</span></div> }
    } else {
        html! {
            <div class="divider" data-testid="conversation-start">
                <span>{ format!("Conversation started · {}", divider_time(c.started_at())) }</span>
            </div>
        }
    };

    html! {
        <section class="messages" ref={scroll.node} onscroll={scroll.onscroll} aria-live="polite">
            { divider }
            if c.lines.is_empty() {
                <p class="empty">{ "No messages yet. Say hello!" }</p>
            }
            { bubbles }
            if scroll.behind {
                <button class="jump" onclick={scroll.jump}>{ "↓ New messages" }</button>
            }
        </section>
    }
}
