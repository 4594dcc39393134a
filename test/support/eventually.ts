/**
 * Reads until `done` accepts the value or `timeoutMs` passes, and returns the last value read either way, so the
 * test's own assertion on it says what was wrong (rather than a bare timeout).
 */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
