use confab_protocol::validate_room_name;
use yew::prelude::*;

use super::{Avatar, ConnectionStatus, ListItem, SearchBox};
use crate::hooks::{use_chat, use_presence};
use crate::state::{Action, ConvKey, Link};

/// The left pane: me and the connection, search, rooms, people.
#[component]
pub fn Sidebar() -> Html {
    let chat = use_chat();
    let people = use_presence();
    let state = &chat.state;
    // Presence is only known while connected: dots go grey during an outage.
    let connected = state.link == Link::Open;

    let open = |key: ConvKey| {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| state.dispatch(Action::Open(key.clone())))
    };
    let on_search = {
        let state = state.clone();
        Callback::from(move |s: String| state.dispatch(Action::Search(s)))
    };

    let rooms = state.visible_rooms();
    let room_items = rooms.iter().map(|c| {
        let last = c.last();
        let (glyph, kind) = match c.key {
            ConvKey::Game => ("⚄", "game"),
            _ => ("#", "room"),
        };
        let title = state.title(&c.key);
        let preview = match (last, &c.key) {
            (Some(l), _) => Some(l.body.preview()),
            (None, ConvKey::Game) => Some("Roll the die with everyone here".to_owned()),
            (None, _) => None,
        };
        let seed = title.clone();
        let key = title.clone();
        html! {
            <ListItem
                {key}
                {title}
                {seed}
                glyph={AttrValue::from(glyph)}
                kind={kind}
                preview={preview.map(AttrValue::from)}
                time={last.map(|l| l.ts)}
                unread={c.unread}
                active={state.active == c.key}
                onclick={open(c.key.clone())}
            />
        }
    });
    // Typing a new room name offers to join it.
    let wanted = state.search.trim().trim_start_matches('#');
    let join_item = (!wanted.is_empty()
        && validate_room_name(wanted).is_ok()
        && !wanted.starts_with("dm:")
        && state
            .conversation(&ConvKey::Room(wanted.to_owned()))
            .is_none())
    .then(|| {
        let key = ConvKey::Room(wanted.to_owned());
        let clear = {
            let state = state.clone();
            let open = open(key);
            Callback::from(move |e: MouseEvent| {
                open.emit(e);
                state.dispatch(Action::Search(String::new()));
            })
        };
        html! {
            <ListItem
                title={format!("Join #{wanted}")}
                seed={wanted.to_owned()}
                glyph={AttrValue::from("+")}
                kind="join"
                preview={AttrValue::from("Create or join this room")}
                onclick={clear}
            />
        }
    });

    let person_items = people.iter().map(|p| {
        let key = ConvKey::Dm(p.member.id.clone());
        let conv = state.conversation(&key);
        let last = conv.and_then(|c| c.last());
        let preview = match last {
            Some(l) if state.is_mine(&l.from) => format!("You: {}", l.body.preview()),
            Some(l) => l.body.preview(),
            None if !connected => "presence unknown while offline".to_owned(),
            None if p.online() => "online · say hi".to_owned(),
            None => "offline".to_owned(),
        };
        html! {
            <ListItem
                key={p.member.id.clone()}
                title={state.label_of(&p.member.id, &p.member.name)}
                seed={p.member.id.clone()}
                kind="person"
                online={Some(p.online() && connected)}
                image={p.avatar.clone().map(AttrValue::from)}
                preview={AttrValue::from(preview)}
                time={last.map(|l| l.ts)}
                unread={conv.map_or(0, |c| c.unread)}
                active={state.active == key}
                onclick={open(key.clone())}
            />
        }
    });
    let me = state.me.clone();
    let online_count = people.iter().filter(|p| p.online()).count();

    html! {
        <aside class="sidebar" aria-label="Conversations">
            <header class="me">
                if let Some(me) = me {
                    <Avatar name={me.name.clone()} seed={me.id.clone()} />
                    <div class="me-text">
                        <div class="me-name" data-testid="my-name" data-id={me.id.clone()}>{ me.name.clone() }</div>
                        <ConnectionStatus />
                    </div>
                } else {
                    <div class="me-text"><ConnectionStatus /></div>
                }
            </header>
            <SearchBox value={state.search.clone()} oninput={on_search} />
            <nav class="lists">
                <h2>{ "Rooms" }</h2>
                <ul class="list rooms">
                    { for room_items }
                    { for join_item }
                </ul>
                if connected {
                    <h2>{ format!("People · {online_count} online") }</h2>
                } else {
                    // Presence is unknown while the link is down: the last
                    // known people stay, greyed, until the rooms are re-joined.
                    <h2>{ "People · last known" }</h2>
                }
                <ul class={classes!("list", "people", (!connected).then_some("stale"))}>
                    { for person_items }
                </ul>
                if people.is_empty() {
                    <p class="empty">{
                        if state.search.is_empty() { "Nobody else is here yet." } else { "No one matches." }
                    }</p>
                }
            </nav>
        </aside>
    }
}
