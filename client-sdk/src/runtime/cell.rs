//! `RefCell` borrows that abort instead of panicking on a conflicting
//! borrow (a bug either way). `RefCell::borrow_mut`'s panic formats its
//! error with `core::fmt`, which then stays in the wasm; `abort` is a bare
//! trap there, as a panic is under `panic = "abort"` in the npm build.

use std::cell::{Ref, RefCell, RefMut};

/// [`RefCell::borrow`] / [`RefCell::borrow_mut`] without the panic path.
pub(crate) trait Borrows<T: ?Sized> {
    /// A shared borrow; aborts if the cell is mutably borrowed.
    fn read(&self) -> Ref<'_, T>;
    /// An exclusive borrow; aborts if the cell is borrowed.
    fn write(&self) -> RefMut<'_, T>;
}

impl<T: ?Sized> Borrows<T> for RefCell<T> {
    #[inline]
    fn read(&self) -> Ref<'_, T> {
        self.try_borrow().unwrap_or_else(|_| std::process::abort())
    }

    #[inline]
    fn write(&self) -> RefMut<'_, T> {
        self.try_borrow_mut()
            .unwrap_or_else(|_| std::process::abort())
    }
}
