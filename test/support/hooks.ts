// Root hooks for every test file: each top-level suite (one per file, by convention) must give back every server,
// socket and pool it opened. A leaked handle fails the file that leaked it, by name, instead of hanging the run.
import type { Context, Suite } from "mocha";
import { checkRequiredServices, dropRunDatabase, dropRunVhost, openRunDatabase } from "./backends";

/** Handle kinds that mean a server, client socket or child process was left open. */
const WATCHED = new Set(["TCPServerWrap", "TCPSocketWrap", "PipeServerWrap", "ProcessWrap", "Http2Session"]);

function openHandles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) {
    if (WATCHED.has(kind)) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

function grewBeyond(baseline: Map<string, number>, now: Map<string, number>): string[] {
  const grown: string[] = [];
  for (const [kind, n] of now) {
    const before = baseline.get(kind) ?? 0;
    if (n > before) grown.push(`${kind} ${before} → ${n}`);
  }
  return grown;
}

/** Sockets close asynchronously after `close()` resolves; give them a moment before calling it a leak. */
async function settle(baseline: Map<string, number>, waitMs: number): Promise<string[]> {
  const until = Date.now() + waitMs;
  let grown = grewBeyond(baseline, openHandles());
  while (grown.length > 0 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    grown = grewBeyond(baseline, openHandles());
  }
  return grown;
}

export const mochaHooks = {
  async beforeAll(this: Context) {
    this.timeout(60_000);
    checkRequiredServices();
    // The run's fresh database exists before any file records its baseline, so it is not counted as a leak.
    await openRunDatabase();
    const root: Suite | undefined = this.test?.parent;
    if (!root) return;
    for (const file of root.suites) {
      let baseline = new Map<string, number>();
      // Registered first so it runs before the file's own before() hooks open anything.
      file.beforeAll("record open handles", () => {
        baseline = openHandles();
      });
      file.afterAll("leaves no open servers, sockets or child processes", async function () {
        this.timeout(10_000);
        const grown = await settle(baseline, 3_000);
        if (grown.length > 0) {
          throw new Error(`"${file.title}" leaked handles: ${grown.join(", ")}`);
        }
      });
      // beforeAll hooks run in registration order: move ours to the front.
      const hooks = (file as unknown as { _beforeAll: unknown[] })._beforeAll;
      hooks.unshift(hooks.pop());
    }
  },
  async afterAll(this: Context) {
    this.timeout(60_000);
    await dropRunDatabase();
    dropRunVhost();
  },
};
