use std::cell::Cell;
use std::rc::Rc;

use yew::prelude::*;

/// Distance from the bottom (px) still counted as "at the bottom".
const SLACK: i32 = 48;

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

/// Keeps a scrolling list at its newest line when `len` grows, unless the
/// person scrolled up to read (then `behind` turns true instead).
#[hook]
pub fn use_auto_scroll(len: usize) -> AutoScroll {
    let node = use_node_ref();
    let stick: Rc<Cell<bool>> = use_memo((), |_| Cell::new(true));
    let behind = use_state_eq(|| false);

    let onscroll = {
        let (node, stick, behind) = (node.clone(), Rc::clone(&stick), behind.clone());
        Callback::from(move |_: Event| {
            if let Some(el) = node.cast::<web_sys::Element>() {
                let at_bottom = el.scroll_height() - el.scroll_top() - el.client_height() < SLACK;
                stick.set(at_bottom);
                if at_bottom {
                    behind.set(false);
                }
            }
        })
    };
    {
        let (node, stick, behind) = (node.clone(), Rc::clone(&stick), behind.clone());
        use_effect_with(len, move |_| {
            if let Some(el) = node.cast::<web_sys::Element>() {
                if stick.get() {
                    el.set_scroll_top(el.scroll_height());
                } else {
                    behind.set(true);
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
