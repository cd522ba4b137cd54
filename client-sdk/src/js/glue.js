// The SDK's JavaScript helpers, imported by the wasm (src/js/glue.rs):
// - listeners by event name, kept on the JS side (a `Map` of arrays,
//   copied on write so a listener may add/remove listeners while called);
//   a throwing listener is reported with `console.error` and neither stops
//   the others nor unwinds into the SDK;
// - `Error` objects with `code` (and `room`);
// - a promise with its `settle(ok, value)`, for the promises of async methods;
// - calling a token provider and settling its result (a value or a
//   promise; a throw or a rejection gives `undefined`) into a callback;
// - the async iterator of `ConfabSocket.messages()`.
// scripts/build.sh minifies it with the rest of the glue.
export function listeners() { return new Map(); }
export function on(l, e, f) { l.set(e, [...(l.get(e) ?? []), f]); }
export function off(l, e, f) { const a = l.get(e); if (a) l.set(e, a.filter((g) => g !== f)); }
export function listening(l, e) { return !!l.get(e)?.length; }
export function emit(l, e, v) {
  for (const f of l.get(e) ?? []) { try { f(v); } catch (err) { console.error(err); } }
}
export function jsError(message, code, room) {
  const e = new Error(message);
  e.code = code;
  if (room !== undefined) e.room = room;
  return e;
}
export function deferred() {
  let settle;
  const promise = new Promise((resolve, reject) => { settle = (ok, v) => (ok ? resolve : reject)(v); });
  return { promise, settle };
}
export function settle(f, cb) {
  let v;
  try { v = f(); } catch { cb(undefined); return; }
  Promise.resolve(v).then(cb, () => cb(undefined));
}
export function asyncIterable(sock) {
  return { [Symbol.asyncIterator]() { return { next: async () => {
    const value = await sock.wait();
    return value === undefined ? { done: true, value: undefined } : { done: false, value };
  } }; } };
}
