// grpc.health.v1 status driven by real dependency probes. Each registered service may have a probe (a database
// ping, a broker check); the status of a service is SERVING while its last probe passed, and the overall service ""
// is SERVING only while every service is. Draining turns everything NOT_SERVING at once and for good, so load
// balancers stop routing before the server stops accepting.
import { HealthDefinition, HealthServiceImpl, HealthState } from 'nice-grpc-server-health';
import type { Logger } from './logger';

export { HealthDefinition };

export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** Resolves when the dependency answers; rejects (or hangs past the timeout) when it does not. */
export type Probe = () => Promise<void>;

export interface HealthRegistryOptions {
  logger: Logger;
  /** Time between two probe rounds. */
  probeIntervalMs?: number;
  /** A probe that has not answered within this time counts as failed. */
  probeTimeoutMs?: number;
}

export interface HealthRegistry {
  /** Adds a service by its fully-qualified name; without a probe it is SERVING until drained. */
  register(service: string, probe?: Probe): void;
  /** Runs every probe once (so the first answer is already true), then keeps probing in the background. */
  start(): Promise<void>;
  status(service?: string): ServingStatus;
  /** NOT_SERVING for every service from now on; probing stops. */
  drain(): void;
  readonly draining: boolean;
  /** Stops probing without changing statuses. */
  stop(): void;
  /** The grpc.health.v1.Health implementation (Check and Watch) reading this registry. */
  readonly implementation: HealthServiceImpl;
}

const DEFAULT_PROBE_INTERVAL_MS = 5_000;
const DEFAULT_PROBE_TIMEOUT_MS = 2_000;

export function createHealthRegistry(options: HealthRegistryOptions): HealthRegistry {
  const { logger } = options;
  const probeIntervalMs = options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
  const probeTimeoutMs = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const state = HealthState();
  const probes = new Map<string, Probe | undefined>();
  const healthy = new Map<string, boolean>();
  let draining = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;

  const publish = (): void => {
    for (const [service, ok] of healthy) state.setStatus(!draining && ok ? 'healthy' : 'unhealthy', service);
    const allOk = [...healthy.values()].every(Boolean);
    state.setStatus(!draining && allOk ? 'healthy' : 'unhealthy', '');
  };

  const probeOne = async (service: string, probe: Probe): Promise<void> => {
    let timeout: NodeJS.Timeout | undefined;
    let ok: boolean;
    let failure: unknown;
    try {
      await Promise.race([
        probe(),
        new Promise((_, reject) => {
          timeout = setTimeout(() => reject(new Error(`probe timed out after ${probeTimeoutMs} ms`)), probeTimeoutMs);
        }),
      ]);
      ok = true;
    } catch (error) {
      ok = false;
      failure = error;
    } finally {
      clearTimeout(timeout);
    }
    // Log transitions only: a dependency down for an hour should not write a line every few seconds.
    if (healthy.get(service) !== ok) {
      if (ok) logger.info('health probe passes', { service });
      else logger.warn('health probe fails', { service, err: failure });
    }
    healthy.set(service, ok);
  };

  const runRound = (): Promise<void> => {
    round ??= Promise.all(
      [...probes].filter((entry): entry is [string, Probe] => entry[1] !== undefined).map(([s, p]) => probeOne(s, p)),
    ).then(() => {
      round = undefined;
      publish();
    });
    return round;
  };

  return {
    register(service, probe) {
      if (probes.has(service)) throw new Error(`service ${service} is already registered for health`);
      probes.set(service, probe);
      // A probed service starts NOT_SERVING: nothing is known about its dependency until the first probe answers.
      healthy.set(service, probe === undefined);
      publish();
    },
    async start() {
      if (draining) return;
      await runRound();
      if (timer === undefined && !draining) {
        timer = setInterval(() => void runRound(), probeIntervalMs);
        timer.unref();
      }
    },
    status(service = '') {
      const status = state.getStatus(service);
      return status === 'healthy' ? 'SERVING' : status === 'unhealthy' ? 'NOT_SERVING' : 'SERVICE_UNKNOWN';
    },
    drain() {
      draining = true;
      this.stop();
      publish();
    },
    get draining() {
      return draining;
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
    implementation: HealthServiceImpl(state),
  };
}
