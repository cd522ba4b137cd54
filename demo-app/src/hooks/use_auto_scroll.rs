use std::cell::{Cell, RefCell};
use std::rc::Rc;

use yew::prelude::*;

/// Distance from the bottom (px) still counted as "at the bottom".
const SLACK: i32 = 48;
/// Distance from the top (px) at which older messages are asked for.
const TOP: i32 = 80;

/// Returned by [`use_auto_scroll`].
pub struct AutoScroll {
    /// Attach to the scrolling element.
    pub node: NodeRef,
    /// Attach to its `onscroll`.
    pub onscroll: Callback<Event>,
    /// New lines arrived while the person was reading further up.
    pub behind: bool,
    /// Scrolls to the newest line.
    pub jump: Callback<MouseEvent>,
}

/// Keeps a scrolling list at its newest line when lines are added at the
/// end, unless the person scrolled up to read (then `behind` turns true
/// instead). Lines added at the top (older ones: `first`, the key of the
/// first line, changed) keep what is on screen where it is. `on_top` is
/// called when the person scrolls near the top, or when the list does not
/// fill its box (nothing to scroll: older lines are wanted as well).
#[hook]
pub fn use_auto_scroll(len: usize, first: Option<String>, on_top: Callback<()>) -> AutoScroll {
    let node = use_node_ref();
    let stick: Rc<Cell<bool>> = use_memo((), |_| Cell::new(true));
    // The list's height after the last render, and its first line then.
    let height: Rc<Cell<i32>> = use_memo((), |_| Cell::new(0));
    let shown_first: Rc<RefCell<Option<String>>> = use_memo((), |_| RefCell::new(None));
    let behind = use_state_eq(|| false);

    let onscroll = {
        let (node, stick, behind, on_top) = (
            node.clone(),
            Rc::clone(&stick),
            behind.clone(),
            on_top.clone(),
        );
        Callback::from(move |_: Event| {
            if let Some(el) = node.cast::<web_sys::Element>() {
                let at_bottom = el.scroll_height() - el.scroll_top() - el.client_height() < SLACK;
                stick.set(at_bottom);
                if at_bottom {
                    behind.set(false);
                }
                if el.scroll_top() < TOP {
                    on_top.emit(());
                }
            }
        })
    };
    {
        let (node, stick, behind) = (node.clone(), Rc::clone(&stick), behind.clone());
        use_effect_with((len, first), move |(_, first)| {
            if let Some(el) = node.cast::<web_sys::Element>() {
                let prepended = {
                    let mut shown = shown_first.borrow_mut();
                    let changed = shown.is_some() && *shown != *first;
                    shown.clone_from(first);
                    changed
                };
                let added_above = el.scroll_height() - height.get();
                if stick.get() {
                    el.set_scroll_top(el.scroll_height());
                } else if prepended {
                    // Older lines went in above: the same lines stay in view.
                    el.set_scroll_top(el.scroll_top() + added_above);
                } else {
                    behind.set(true);
                }
                height.set(el.scroll_height());
                if el.scroll_height() <= el.client_height() {
                    on_top.emit(());
                }
            }
            || ()
        });
    }
    let jump = {
        let (node, stick, behind) = (node.clone(), Rc::clone(&stick), behind.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(el) = node.cast::<web_sys::Element>() {
                el.set_scroll_top(el.scroll_height());
                stick.set(true);
                behind.set(false);
            }
        })
    };
    AutoScroll {
        node,
        onscroll,
        behind: *behind,
        jump,
    }
}
