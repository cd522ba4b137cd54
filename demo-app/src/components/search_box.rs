use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Props of [`SearchBox`].
#[derive(Properties, PartialEq)]
pub struct SearchBoxProps {
    /// Current text.
    pub value: AttrValue,
    /// Called on every keystroke.
    pub oninput: Callback<String>,
}

/// The filter box above the people and rooms lists.
#[component]
pub fn SearchBox(props: &SearchBoxProps) -> Html {
    let oninput = props
        .oninput
        .reform(|e: InputEvent| e.target_unchecked_into::<HtmlInputElement>().value());
    html! {
        <div class="search">
            <input
                type="search"
                placeholder="Search, or type a room to join"
                aria-label="Search people and rooms"
                value={props.value.clone()}
                {oninput}
            />
        </div>
    }
}
