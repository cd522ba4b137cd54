use yew::prelude::*;

use crate::format::die_face;
use crate::hooks::{use_chat, use_focus_on_open};
use crate::state::{Body, ConvKey, Link};

/// The dice game controls: the last roll, big, and the Roll button.
#[component]
pub fn DicePanel() -> Html {
    let chat = use_chat();
    let button = use_node_ref();
    use_focus_on_open(button.clone());
    let last = chat.state.conversation(&ConvKey::Game).and_then(|c| {
        c.lines.iter().rev().find_map(|l| match &l.body {
            Body::Dice { text, position } => Some((text.clone(), *position)),
            _ => None,
        })
    });
    let roll = {
        let conn = chat.conn.clone();
        Callback::from(move |_: MouseEvent| conn.roll())
    };
    let online = chat.state.link == Link::Open;
    html! {
        <div class="dice-panel">
            <div class="die-big" data-testid="last-roll" data-position={last.as_ref().map(|(_, p)| p.to_string())}>
                { last.as_ref().map_or("?", |(_, p)| die_face(*p)) }
            </div>
            <div class="dice-text">
                { last.map_or_else(|| "No roll yet".to_owned(), |(t, p)| format!("{t}: {p}")) }
            </div>
            <button class="send roll" onclick={roll} disabled={!online} ref={button}>{ "Roll" }</button>
        </div>
    }
}
