// Wakes event-log readers in this process right after a commit; readers still poll, so commits made by other
// instances are seen within the poll interval.

/** A broadcast "something committed" signal. */
export interface ChangeSignal {
  notify(): void;
  /** Resolves on the next notify, after `timeoutMs`, or when `signal` aborts, whichever comes first. */
  wait(timeoutMs: number, signal: AbortSignal): Promise<void>;
}

/** Creates an in-process ChangeSignal. */
export function createChangeSignal(): ChangeSignal {
  let waiters: (() => void)[] = [];
  return {
    notify() {
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
    },
    wait(timeoutMs, signal) {
      return new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          waiters = waiters.filter((w) => w !== done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        signal.addEventListener("abort", done, { once: true });
        waiters.push(done);
      });
    },
  };
}
