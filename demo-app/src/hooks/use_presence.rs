use yew::prelude::*;

use super::use_chat;
use crate::state::Person;

/// The people list: everyone online in a joined room (and anyone we have a
/// DM with), online first, filtered by the search box.
#[hook]
pub fn use_presence() -> Vec<Person> {
    let chat = use_chat();
    chat.state.visible_people().into_iter().cloned().collect()
}
