//! The root component: asks for a name on the first visit, then connects.

use yew::prelude::*;

use crate::components::{ChatWindow, NamePrompt};
use crate::connection_provider::ConnectionProvider;
use crate::storage;

/// The whole page.
#[component]
pub fn App() -> Html {
    let name = use_state(storage::load_name);
    let on_name = {
        let name = name.setter();
        Callback::from(move |chosen: String| {
            storage::save_name(&chosen);
            name.set(Some(chosen));
        })
    };
    match &*name {
        None => html! { <NamePrompt on_submit={on_name} /> },
        Some(n) => html! {
            <ConnectionProvider name={n.clone()}>
                <ChatWindow />
            </ConnectionProvider>
        },
    }
}
