use yew::prelude::*;

use crate::connection::Connection;
use crate::state::ChatState;

/// What [`crate::connection_provider::ConnectionProvider`] shares with
/// every component: the state and the connection that feeds it.
#[derive(Clone, PartialEq)]
pub struct ChatContext {
    /// The chat state; `dispatch` an [`crate::state::Action`] to change it.
    pub state: UseReducerHandle<ChatState>,
    /// The SDK connection (join, send, rename, roll).
    pub conn: Connection,
}

/// The chat context. Components using it must sit inside a
/// `ConnectionProvider` (the app guarantees it).
#[hook]
pub fn use_chat() -> ChatContext {
    match use_context::<ChatContext>() {
        Some(ctx) => ctx,
        None => panic!("use_chat() outside <ConnectionProvider>"),
    }
}
