// A task that runs again `intervalMs` after each round ends (never two rounds at once), until stopped. A round that
// fails is reported to `onError` and the next round runs as planned. Used by background sweeps and refreshes.

export interface Periodic {
  /** True once stop() was called: long rounds check it between steps. */
  stopped(): boolean;
  /** Cancels the next round and waits for the one in progress. */
  stop(): Promise<void>;
}

export function startPeriodic(options: {
  intervalMs: number;
  round: (periodic: Periodic) => Promise<void>;
  onError: (error: unknown) => void;
}): Periodic {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const periodic: Periodic = {
    stopped: () => stopped,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = options.round(periodic).catch(options.onError).finally(schedule);
    }, options.intervalMs);
  };
  schedule();
  return periodic;
}
