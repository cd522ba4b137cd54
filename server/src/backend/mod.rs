//! The application's backend in the loop: webhooks (the backend is told
//! what happened: users online/offline, members joining and leaving rooms,
//! rooms occupied and vacated, messages stored), signed so the backend can
//! tell they came from this server. See docs/BACKEND.md.

pub mod sign;
pub mod webhooks;

pub use webhooks::{WebhookEvent, Webhooks};
