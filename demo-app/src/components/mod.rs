//! One file per component, each with its Props.

mod avatar;
mod chat_header;
mod chat_pane;
mod chat_window;
mod composer;
mod connection_status;
mod dice_panel;
mod list_item;
mod message_bubble;
mod message_list;
mod name_prompt;
mod search_box;
mod sidebar;
mod typing_indicator;

pub use avatar::Avatar;
pub use chat_header::ChatHeader;
pub use chat_pane::ChatPane;
pub use chat_window::ChatWindow;
pub use composer::Composer;
pub use connection_status::ConnectionStatus;
pub use dice_panel::DicePanel;
pub use list_item::ListItem;
pub use message_bubble::MessageBubble;
pub use message_list::MessageList;
pub use name_prompt::NamePrompt;
pub use search_box::SearchBox;
pub use sidebar::Sidebar;
pub use typing_indicator::TypingIndicator;
