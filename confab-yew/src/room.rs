//! [`use_room`] and [`use_presence`].

use confab_client::{Error, Member, Room, RoomEvent, RoomMessage, RoomState};
use yew::prelude::*;

use crate::use_client;

/// What [`use_room`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct UseRoom {
    /// The SDK room (publish, signal, history, set_member_state, leave);
    /// `None` when the name is invalid or the client is closed (`error`
    /// says why).
    pub room: Option<Room>,
    /// Joining, joined, left, errored (a refused join: `error`).
    pub state: RoomState,
    /// Who is in the room, with their `info` and room `state`.
    pub members: Vec<Member>,
    /// The messages seen since the room was joined (the SDK's
    /// [`Room::recent`]), oldest first, each once.
    pub messages: Vec<RoomMessage>,
    /// Why the room cannot be used (a refused join, an invalid name).
    pub error: Option<Error>,
}

impl UseRoom {
    fn of(room: &Room) -> Self {
        Self {
            room: Some(room.clone()),
            state: room.state(),
            members: room.members(),
            messages: room.recent(),
            error: room.error(),
        }
    }
}

/// Room `name` of the provider's client: registered on first use (joined
/// whenever the connection is up, re-joined after reconnects), and this
/// component re-rendered on each of its events. The room stays joined
/// when the component goes away (call [`Room::leave`] for that).
#[hook]
pub fn use_room(name: &str) -> UseRoom {
    let client = use_client();
    let view = use_state(|| None::<UseRoom>);
    {
        let view = view.setter();
        use_effect_with(name.to_owned(), move |name| {
            let sub = match client.room(name) {
                Ok(room) => {
                    view.set(Some(UseRoom::of(&room)));
                    let r = room.clone();
                    Some(room.on_event(move |ev| {
                        // Signals change nothing shown here (see use_typing).
                        if !matches!(ev, RoomEvent::Signal { .. }) {
                            view.set(Some(UseRoom::of(&r)));
                        }
                    }))
                }
                Err(e) => {
                    view.set(Some(UseRoom {
                        room: None,
                        state: RoomState::Errored,
                        members: Vec::new(),
                        messages: Vec::new(),
                        error: Some(e),
                    }));
                    None
                }
            };
            move || drop(sub)
        });
    }
    (*view).clone().unwrap_or(UseRoom {
        room: None,
        state: RoomState::Joining,
        members: Vec::new(),
        messages: Vec::new(),
        error: None,
    })
}

/// Who is in room `name`, live (see [`use_room`]).
#[hook]
pub fn use_presence(name: &str) -> Vec<Member> {
    use_room(name).members
}
