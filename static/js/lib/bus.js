// The page-wide frame bus: every frame of the page's socket goes through dispatchFrame first, and
// the views that follow a consultation on their own (the call, the pre-call check) listen here
// instead of being called by the page one by one.

const listeners = new Set();

/** Listen to every frame of the page's socket; returns the function that stops listening. */
export function listenFrames(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Give a frame to every listener; true when one of them took it as its own alone. */
export function dispatchFrame(frame) {
  let consumed = false;
  for (const listener of Array.from(listeners)) {
    try {
      if (listener(frame)) consumed = true;
    } catch (error) {
      console.warn("a frame listener failed", error);
    }
  }
  return consumed;
}
