//! The component that owns the SDK connection and the chat state, and
//! shares both through a context (Yew's `contexts` example).

use yew::prelude::*;

use crate::connection::Connection;
use crate::hooks::ChatContext;
use crate::state::{now_ms, ChatState};

/// Props of [`ConnectionProvider`].
#[derive(Properties, PartialEq)]
pub struct ConnectionProviderProps {
    /// Display name to connect with.
    pub name: AttrValue,
    /// The UI that uses the connection.
    pub children: Html,
}

/// Connects once on mount (as `name`) and closes the connection on unmount.
#[component]
pub fn ConnectionProvider(props: &ConnectionProviderProps) -> Html {
    let state = use_reducer(|| ChatState::new(now_ms()));
    let conn = {
        let dispatcher = state.dispatcher();
        let name = props.name.clone();
        // `()` deps: a later /name renames over the same connection.
        use_memo((), move |_| {
            Connection::start(&name, dispatcher.to_callback())
        })
    };
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
