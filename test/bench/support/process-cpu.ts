// CPU time of the processes a benchmark drives (the service's Postgres backends, the broker), read from /proc. On a
// shared two-core machine rates are noisy; the CPU each unit of work costs every process is much steadier, and says
// which process a change saved. Readable only for processes on this machine.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Client } from "pg";

/** CPU time (user + system) a process has used so far, in ms; 0 for a process that is gone. */
export function cpuMsOf(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return 0;
  }
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in clock ticks.
  const fields = stat.split(") ")[1]!.split(" ");
  const ticksPerSecond = 100; // USER_HZ, which Linux fixes at 100 for /proc
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

/** CPU so far of the Postgres backends connected to `database`, by pid. */
export async function backendCpuMs(admin: Client, database: string): Promise<Map<number, number>> {
  const { rows } = await admin.query(`select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [database]);
  return new Map((rows as { pid: number }[]).map((r) => [r.pid, cpuMsOf(r.pid)]));
}

/** CPU the backends used between two readings; a backend that appeared in between counts from its start. */
export function backendCpuSpentMs(before: Map<number, number>, after: Map<number, number>): number {
  let spent = 0;
  for (const [pid, ms] of after) spent += ms - (before.get(pid) ?? 0);
  return spent;
}

/** Pids of RabbitMQ's Erlang VM on this machine (none when the broker runs elsewhere). */
export function brokerPids(): number[] {
  try {
    return execFileSync("pgrep", ["-f", "beam.smp"], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
