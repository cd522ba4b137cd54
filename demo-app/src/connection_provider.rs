//! The component that owns the SDK connection and the chat state, and
//! shares both through a context (Yew's `contexts` example). The SDK
//! client itself comes from `confab-yew`'s [`ConfabProvider`] (connect on
//! mount, close on unmount, `use_client`); this adds the demo's state.

use confab_yew::{use_client, ConfabProvider, Options};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::connection::{client_options, Connection};
use crate::hooks::ChatContext;
use crate::state::{now_ms, ChatState};

/// Props of [`ConnectionProvider`].
#[derive(Properties, PartialEq)]
pub struct ConnectionProviderProps {
    /// Display name to connect with (a guest's).
    pub name: AttrValue,
    /// A user token (from the page's address): connect as that user.
    #[prop_or_default]
    pub token: Option<AttrValue>,
    /// The UI that uses the connection.
    pub children: Html,
}

/// Connects once on mount (as `name`) and closes the connection on unmount.
#[component]
pub fn ConnectionProvider(props: &ConnectionProviderProps) -> Html {
    // `()` deps: a later /name renames over the same connection.
    let options = {
        let (name, token) = (props.name.clone(), props.token.clone());
        use_memo((), move |_| {
            Options::new(client_options(&name, token.as_deref()))
        })
    };
    let rooms = props
        .token
        .as_deref()
        .map(crate::storage::granted_rooms)
        .unwrap_or_default();
    html! {
        <ConfabProvider options={(*options).clone()}>
            <ChatProvider {rooms}>{ props.children.clone() }</ChatProvider>
        </ConfabProvider>
    }
}

/// Props of [`ChatProvider`].
#[derive(Properties, PartialEq)]
struct ChatProviderProps {
    /// Rooms to join at start besides the lobby (a token's grants).
    rooms: Vec<String>,
    children: Html,
}

/// The chat state, fed by the client of the enclosing `ConfabProvider`.
#[component]
fn ChatProvider(props: &ChatProviderProps) -> Html {
    let client = use_client();
    let state = use_reducer(|| ChatState::new(now_ms()));
    let conn = {
        let dispatcher = state.dispatcher();
        let rooms = props.rooms.clone();
        use_memo((), move |_| {
            Connection::start(client, rooms, dispatcher.to_callback())
        })
    };
    {
        // A room link pasted into this tab changes only the `#room` part.
        let conn = (*conn).clone();
        use_effect_with((), move |_| {
            let listener = web_sys::window().map(|window| {
                let on_hash: Closure<dyn Fn()> = Closure::new(move || conn.open_address_room());
                let _ = window.add_event_listener_with_callback(
                    "hashchange",
                    on_hash.as_ref().unchecked_ref(),
                );
                (window, on_hash)
            });
            move || {
                if let Some((window, on_hash)) = listener {
                    let _ = window.remove_event_listener_with_callback(
                        "hashchange",
                        on_hash.as_ref().unchecked_ref(),
                    );
                }
            }
        });
    }
    let context = ChatContext {
        state,
        conn: (*conn).clone(),
    };
    html! {
        <ContextProvider<ChatContext> {context}>
            { props.children.clone() }
        </ContextProvider<ChatContext>>
    }
}
