use yew::prelude::*;

use super::Avatar;
use crate::format::short_time;

/// Props of [`ListItem`].
#[derive(Properties, PartialEq)]
pub struct ListItemProps {
    /// Room or person name.
    pub title: AttrValue,
    /// Seed of the avatar colour.
    pub seed: AttrValue,
    /// Last message preview.
    #[prop_or_default]
    pub preview: Option<AttrValue>,
    /// Time of the last message (ms).
    #[prop_or_default]
    pub time: Option<f64>,
    /// Unread count (badge when > 0).
    #[prop_or_default]
    pub unread: u32,
    /// Presence dot for people.
    #[prop_or_default]
    pub online: Option<bool>,
    /// Avatar glyph instead of initials (rooms).
    #[prop_or_default]
    pub glyph: Option<AttrValue>,
    /// Avatar image URL (people with one in their `info`).
    #[prop_or_default]
    pub image: Option<AttrValue>,
    /// The conversation shown on the right.
    #[prop_or_default]
    pub active: bool,
    /// `data-kind` for tests and styling: "room", "person", "game", "join".
    pub kind: AttrValue,
    /// Clicked.
    pub onclick: Callback<MouseEvent>,
}

/// One row of the left pane: avatar, name, preview, time, unread badge.
#[component]
pub fn ListItem(props: &ListItemProps) -> Html {
    let unread = (props.unread > 0).then(|| {
        let label = if props.unread > 99 { "99+".to_owned() } else { props.unread.to_string() };
        html! { <span class="badge" aria-label={format!("{} unread", props.unread)}>{ label }</span> }
    });
    html! {
        <li>
            <button
                class={classes!("item", props.active.then_some("active"), (props.unread > 0).then_some("has-unread"))}
                data-kind={props.kind.clone()}
                data-name={props.title.clone()}
                aria-current={props.active.then_some("true")}
                onclick={props.onclick.clone()}
            >
                <Avatar name={props.title.clone()} seed={props.seed.clone()} online={props.online} glyph={props.glyph.clone()} image={props.image.clone()} />
                <span class="item-body">
                    <span class="item-top">
                        <span class="item-title">{ props.title.clone() }</span>
                        if let Some(t) = props.time {
                            <span class="item-time">{ short_time(t) }</span>
                        }
                    </span>
                    <span class="item-bottom">
                        <span class="item-preview">{ props.preview.clone().unwrap_or_default() }</span>
                        { unread }
                    </span>
                </span>
            </button>
        </li>
    }
}
