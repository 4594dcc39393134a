// Preload that CPU-profiles a benchmark's service process, which Node 20 will not do through NODE_OPTIONS
// (--cpu-prof is refused there). Usage, e.g. for the PostTransactions benchmark:
//   BENCH_SERVICE_NODE_OPTIONS="--import ./test/bench/support/cpu-profile.mjs" npx tsx test/bench/accounting-post-transactions.bench.ts
// Writes <CPU_PROFILE_DIR or the working directory>/service-<pid>.cpuprofile when the process gets SIGTERM (the
// benchmark's stop) or exits; open it in Chrome DevTools or any .cpuprofile viewer.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import * as path from "node:path";

const session = new Session();
session.connect();
session.post("Profiler.enable");
session.post("Profiler.start");
let written = false;

function write() {
  if (written) return;
  written = true;
  // The inspector answers synchronously in the same thread, so this completes before the process exits.
  session.post("Profiler.stop", (error, result) => {
    if (error) return;
    const file = path.join(process.env.CPU_PROFILE_DIR ?? process.cwd(), `service-${process.pid}.cpuprofile`);
    writeFileSync(file, JSON.stringify(result.profile));
  });
}

process.prependListener("SIGTERM", write);
process.on("exit", write);
