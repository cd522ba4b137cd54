//! The root component: asks for a name on the first visit, then connects.

use yew::prelude::*;

use crate::components::{ChatWindow, NamePrompt};
use crate::connection_provider::ConnectionProvider;
use crate::storage;

/// The whole page.
#[component]
pub fn App() -> Html {
    // A user token in the address (or from an earlier visit): no name to
    // ask, the token names the user.
    let token = use_memo((), |_| storage::take_token());
    let name = use_state(storage::load_name);
    let on_name = {
        let name = name.setter();
        Callback::from(move |chosen: String| {
            storage::save_name(&chosen);
            name.set(Some(chosen));
        })
    };
    match (&*name, (*token).clone()) {
        (_, Some(token)) => html! {
            <ConnectionProvider name="" token={AttrValue::from(token)}>
                <ChatWindow />
            </ConnectionProvider>
        },
        (None, None) => html! { <NamePrompt on_submit={on_name} /> },
        (Some(n), None) => html! {
            <ConnectionProvider name={n.clone()}>
                <ChatWindow />
            </ConnectionProvider>
        },
    }
}
