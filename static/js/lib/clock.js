// The wall clock in milliseconds, from the monotonic performance clock: for the time stamps of a
// call's steps (bench/video.py compares them across pages).

export const wallClock = () => performance.timeOrigin + performance.now();
