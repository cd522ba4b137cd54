use yew::prelude::*;

use crate::format::{hue, initials};

/// Props of [`Avatar`].
#[derive(Properties, PartialEq)]
pub struct AvatarProps {
    /// Name the initials come from.
    pub name: AttrValue,
    /// Stable seed for the colour (user id or room name).
    pub seed: AttrValue,
    /// Draws the presence dot: `Some(true)` online, `Some(false)` offline.
    #[prop_or_default]
    pub online: Option<bool>,
    /// Text instead of initials (e.g. `#` for rooms).
    #[prop_or_default]
    pub glyph: Option<AttrValue>,
    /// An image (the user's `info.avatar`) over the initials.
    #[prop_or_default]
    pub image: Option<AttrValue>,
}

/// A round avatar with initials and an optional online dot.
#[component]
pub fn Avatar(props: &AvatarProps) -> Html {
    let style = format!("--hue: {}", hue(&props.seed));
    let text = props
        .glyph
        .as_ref()
        .map_or_else(|| initials(&props.name), ToString::to_string);
    html! {
        <span class="avatar" {style} aria-hidden="true">
            { text }
            if let Some(src) = props.image.clone() {
                // An image that does not load leaves the initials showing.
                <img class="avatar-img" {src} alt="" loading="lazy" referrerpolicy="no-referrer" onerror={hide_broken()} />
            }
            if let Some(online) = props.online {
                <span class={classes!("dot", online.then_some("online"))}></span>
            }
        </span>
    }
}

/// Hides the `<img>` whose `error` event this is.
fn hide_broken() -> Callback<Event> {
    Callback::from(|e: Event| {
        if let Some(img) = e.target_dyn_into::<web_sys::HtmlElement>() {
            let _ = img.style().set_property("display", "none");
        }
    })
}
