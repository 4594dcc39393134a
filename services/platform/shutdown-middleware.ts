// Lets long-lived streams end cleanly when the server shuts down. Every call sees `shutdownSignal`, which aborts
// when shutdown begins, so a streaming handler can send a final frame and return. A handler that has nothing to say
// at the end calls `abortOnTerminate()` instead: its `signal` then aborts at shutdown and the stream ends with OK
// rather than an error (nice-grpc-server-health's Watch uses this hook).
import { ServerError, Status, type ServerMiddleware } from 'nice-grpc-common';

export type ShutdownCallContext = {
  /** Aborts when the server begins shutting down. */
  shutdownSignal: AbortSignal;
  /** Makes this call's `signal` abort at shutdown, ending a stream gracefully. */
  abortOnTerminate(): void;
};

/** Told when shutdown begins (see `ShutdownControl.watch`). */
export interface ShutdownWatcher {
  onShutdown(): void;
}

export interface ShutdownControl {
  /**
   * For client- and bidi-streaming calls. Unary calls read `shutdownSignal` directly (they finish rather than end
   * early); server-streaming calls get the same hook from their call context in grpc-server-stream.ts.
   */
  middleware: ServerMiddleware<ShutdownCallContext>;
  /** Aborts when shutdown begins. */
  readonly shutdownSignal: AbortSignal;
  /** Aborts `shutdownSignal`, tells every watcher, and aborts every call registered with `abortOnTerminate`. */
  terminate(): void;
  /**
   * Calls `watcher.onShutdown()` once when shutdown begins (at once if it has begun). For server streams, one per
   * open stream: adding and removing a listener on the one `shutdownSignal` walks all its listeners, which with
   * thousands of open streams costs more than the streams' frames; a set costs the same at any size.
   */
  watch(watcher: ShutdownWatcher): void;
  unwatch(watcher: ShutdownWatcher): void;
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

export function createShutdownControl(): ShutdownControl {
  const shutdown = new AbortController();
  const shutdownSignal = shutdown.signal;
  const noop = (): void => {};

  const middleware: ServerMiddleware<ShutdownCallContext> = async function* shutdownMiddleware(call, context) {
    // Unary calls are short: shutdown lets them finish instead of cutting them off.
    if (!call.requestStream && !call.responseStream) {
      return yield* call.next(call.request, { ...context, shutdownSignal, abortOnTerminate: noop });
    }
    const controller = new AbortController();
    const forwardCancel = (): void => controller.abort();
    if (context.signal.aborted) controller.abort();
    else context.signal.addEventListener('abort', forwardCancel, { once: true });
    let terminated = false;
    const terminate = (): void => {
      terminated = true;
      controller.abort();
    };
    let registered = false;
    try {
      return yield* call.next(call.request, {
        ...context,
        signal: controller.signal,
        shutdownSignal,
        abortOnTerminate() {
          if (registered) return;
          registered = true;
          if (shutdownSignal.aborted) terminate();
          else shutdownSignal.addEventListener('abort', terminate, { once: true });
        },
      });
    } catch (error) {
      if (!terminated || !isAbortError(error)) throw error;
      // A response stream ends normally; a client stream still owes one response, so say why there is none.
      if (!call.responseStream) throw new ServerError(Status.UNAVAILABLE, 'the server is shutting down');
      return;
    } finally {
      context.signal.removeEventListener('abort', forwardCancel);
      shutdownSignal.removeEventListener('abort', terminate);
    }
  };

  const watchers = new Set<ShutdownWatcher>();
  return {
    middleware,
    shutdownSignal,
    terminate() {
      shutdown.abort();
      const told = [...watchers];
      watchers.clear();
      for (const watcher of told) watcher.onShutdown();
    },
    watch(watcher) {
      if (shutdownSignal.aborted) watcher.onShutdown();
      else watchers.add(watcher);
    },
    unwatch(watcher) {
      watchers.delete(watcher);
    },
  };
}
