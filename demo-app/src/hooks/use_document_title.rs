use yew::prelude::*;

/// Keeps the tab's title at `title` (set when it changes).
#[hook]
pub fn use_document_title(title: String) {
    use_effect_with(title, |title| {
        if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
            doc.set_title(title);
        }
    });
}
