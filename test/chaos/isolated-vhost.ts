// A RabbitMQ virtual host of its own for one chaos or benchmark run. Queue names are fixed (orders.execute,
// accounting.fills, ...), and other runs sharing the broker would otherwise compete for this run's messages
// (and dead-letter them as unknown ids). Created and deleted with rabbitmqctl on the broker's host.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** The vhost's AMQP URL and a function deleting it. */
export interface IsolatedVhost {
  url: string;
  drop(): void;
}

/** Creates `tp_<purpose>_<random>` with full permissions for the URL's user; null when rabbitmqctl is unavailable. */
export function createIsolatedVhost(baseUrl: string, purpose: string): IsolatedVhost | null {
  const name = `tp_${purpose}_${randomBytes(4).toString("hex")}`;
  const url = new URL(baseUrl);
  const user = decodeURIComponent(url.username || "guest");
  try {
    execFileSync("rabbitmqctl", ["add_vhost", name], { stdio: "ignore" });
    execFileSync("rabbitmqctl", ["set_permissions", "-p", name, user, ".*", ".*", ".*"], { stdio: "ignore" });
  } catch {
    return null;
  }
  url.pathname = `/${encodeURIComponent(name)}`;
  return {
    url: url.toString(),
    drop: () => {
      try {
        execFileSync("rabbitmqctl", ["delete_vhost", name], { stdio: "ignore" });
      } catch {
        // Best effort: a leftover vhost holds nothing another run reads.
      }
    },
  };
}
