//! The application's backend in the loop: hooks (the backend decides
//! whether a user may connect, join or publish, and may change what
//! happens) and webhooks (the backend is told what happened: users
//! online/offline, members joining and leaving rooms, rooms occupied and
//! vacated, messages stored), both signed so the backend can tell they
//! came from this server. See docs/BACKEND.md.

pub mod hooks;
pub mod sign;
pub mod webhooks;

pub use hooks::{HookSettings, Hooks, Refusal};
pub use webhooks::{WebhookEvent, Webhooks};
