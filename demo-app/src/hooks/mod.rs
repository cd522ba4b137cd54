//! Custom hooks: how components reach the chat state and the connection.

mod use_auto_scroll;
mod use_chat;
mod use_countdown;
mod use_presence;
mod use_room;
mod use_ticker;

pub use use_auto_scroll::use_auto_scroll;
pub use use_chat::{use_chat, ChatContext};
pub use use_countdown::use_countdown;
pub use use_presence::use_presence;
pub use use_room::use_room;
pub use use_ticker::use_ticker;
