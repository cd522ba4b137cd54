use confab_protocol::normalize_display_name;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Props of [`NamePrompt`].
#[derive(Properties, PartialEq)]
pub struct NamePromptProps {
    /// Called with the trimmed, valid name.
    pub on_submit: Callback<String>,
}

/// First visit: "What should we call you?" `index.html`'s loading shell
/// is the same card (logo and heading) while the wasm loads.
#[component]
pub fn NamePrompt(props: &NamePromptProps) -> Html {
    let input = use_node_ref();
    let error = use_state(|| false);
    let onsubmit = {
        let (input, error, on_submit) = (input.clone(), error.clone(), props.on_submit.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(el) = input.cast::<HtmlInputElement>() else {
                return;
            };
            match normalize_display_name(&el.value()) {
                Some(name) => on_submit.emit(name.to_owned()),
                None => {
                    error.set(true);
                    let _ = el.focus();
                }
            }
        })
    };
    // The error is announced (role=alert) and tied to the box it is about.
    html! {
        <main class="welcome">
            <form class="welcome-card" {onsubmit} novalidate=true>
                <div class="logo" aria-hidden="true">{ "C" }</div>
                <h1>{ "Welcome to Confab" }</h1>
                <p>{ "Pick a name people will see. You can change it later with " }<code>{ "/name NEW" }</code>{ "." }</p>
                <input
                    ref={input}
                    type="text"
                    name="name"
                    placeholder="Your name"
                    aria-label="Your name"
                    aria-invalid={error.then_some("true")}
                    aria-describedby={error.then_some("name-error")}
                    autocomplete="nickname"
                    maxlength="64"
                    autofocus=true
                />
                if *error {
                    <p class="error-text" id="name-error" role="alert">{ "A name is 1–64 characters." }</p>
                }
                <button type="submit" class="send">{ "Start chatting" }</button>
            </form>
        </main>
    }
}
