use std::rc::Rc;

use yew::prelude::*;

use super::MessageBubble;
use crate::format::divider_time;
use crate::hooks::{use_auto_scroll, use_chat};
use crate::state::{Body, Conversation, Line, LineKey, Status};

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

/// The scrolling list of bubbles under a "conversation started" divider;
/// follows new messages unless the person scrolled up.
#[component]
pub fn MessageList(props: &MessageListProps) -> Html {
    let chat = use_chat();
    let state = &chat.state;
    let c = &props.conversation;
    let scroll = use_auto_scroll(c.lines.len());

    let mut prev: Option<&Line> = None;
    let bubbles = c
        .lines
        .iter()
        .map(|line| {
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
            html! {
                <MessageBubble
                    key={line.key.dom_key()}
                    line={line.clone()}
                    {mine}
                    sender={name}
                    show_name={first_of_group && !mine}
                    {on_retry}
                />
            }
        })
        .collect::<Html>();

    html! {
        <section class="messages" ref={scroll.node} onscroll={scroll.onscroll} aria-live="polite">
            <div class="divider" data-testid="conversation-start">
                <span>{ format!("Conversation started · {}", divider_time(c.started_at())) }</span>
            </div>
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
