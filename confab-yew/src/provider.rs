//! [`ConfabProvider`] and the hooks that read what it shares.

use std::rc::Rc;

use confab_client::{Client, ClientEvent, ClientOptions, ConnectionState, Member};
use yew::prelude::*;

/// The options a [`ConfabProvider`] connects with. Props must compare, and
/// [`ClientOptions`] do not: two `Options` are equal when they are the
/// same value (the provider connects once anyway; new options are not a
/// reconnect).
#[derive(Clone, Debug)]
pub struct Options(Rc<ClientOptions>);

impl Options {
    /// Wraps the SDK's options.
    pub fn new(options: ClientOptions) -> Self {
        Self(Rc::new(options))
    }
}

impl PartialEq for Options {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// Props of [`ConfabProvider`].
#[derive(Properties, PartialEq)]
pub struct ConfabProviderProps {
    /// How to connect (read once, when the provider mounts).
    pub options: Options,
    /// The UI that uses the connection.
    pub children: Html,
}

/// What the provider shares: the client, and the state that re-renders
/// its users.
#[derive(Clone)]
struct Shared {
    client: Client,
    state: ConnectionState,
    me: Option<Member>,
}

impl PartialEq for Shared {
    fn eq(&self, other: &Self) -> bool {
        self.state == other.state
            && self.me.as_ref().map(|m| (&m.id, &m.name))
                == other.me.as_ref().map(|m| (&m.id, &m.name))
    }
}

/// Owns one Confab [`Client`]: connects when mounted, closes when
/// unmounted, and shares it (with its connection state and `me`) with
/// the hooks of every component inside.
#[component]
pub fn ConfabProvider(props: &ConfabProviderProps) -> Html {
    let client = {
        let options = props.options.0.clone();
        use_memo((), move |_| Client::connect((*options).clone()))
    };
    let state = use_state(|| client.state());
    let me = use_state(|| client.me());
    {
        let (client, state, me) = ((*client).clone(), state.setter(), me.setter());
        use_effect_with((), move |_| {
            let c = client.clone();
            let sub = client.on_event(move |ev| match ev {
                ClientEvent::StateChanged(s) => state.set(s.clone()),
                ClientEvent::Welcome(m) => me.set(Some(m.clone())),
                _ => {}
            });
            // Renames are confirmed in `me()` (ack or another tab).
            move || {
                drop(sub);
                c.close();
            }
        });
    }
    let shared = Shared {
        client: (*client).clone(),
        state: (*state).clone(),
        me: (*me).clone(),
    };
    html! {
        <ContextProvider<Shared> context={shared}>
            { props.children.clone() }
        </ContextProvider<Shared>>
    }
}

#[hook]
fn use_shared() -> Shared {
    match use_context::<Shared>() {
        Some(s) => s,
        None => panic!("confab-yew hooks must be used inside <ConfabProvider>"),
    }
}

/// The [`Client`] of the enclosing [`ConfabProvider`] (panics outside one).
#[hook]
pub fn use_client() -> Client {
    use_shared().client
}

/// The connection state; the component re-renders when it changes.
#[hook]
pub fn use_connection() -> ConnectionState {
    use_shared().state
}

/// Who this connection is (from the last `welcome`), `None` before it.
#[hook]
pub fn use_me() -> Option<Member> {
    use_shared().me
}
