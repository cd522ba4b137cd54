use std::rc::Rc;

use yew::prelude::*;

use super::use_chat;
use crate::state::{ConvKey, Conversation};

/// The conversation `key` (room, DM or dice game), joined through the SDK
/// the first time it is shown. `None` until it has been opened.
#[hook]
pub fn use_room(key: ConvKey) -> Option<Rc<Conversation>> {
    let chat = use_chat();
    {
        let conn = chat.conn.clone();
        use_effect_with(key.clone(), move |key| {
            match key {
                ConvKey::Room(name) => conn.join(name),
                ConvKey::Dm(other) => conn.open_dm(other),
                ConvKey::Game => conn.open_game(),
            }
            || ()
        });
    }
    chat.state.conversation(&key).cloned()
}
