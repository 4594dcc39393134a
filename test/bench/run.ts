// `npm run bench [name-filter]`: runs every test/bench/*.bench.ts in its own process, one after another (the
// machine has two cores; parallel benchmarks would measure each other), and prints each one's verdict line.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import * as path from "node:path";

const filter = process.argv[2];
const dir = __dirname;
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => !filter || f.includes(filter))
  .sort();

if (files.length === 0) {
  console.error(`no benchmark matches ${filter ?? "test/bench/*.bench.ts"}`);
  process.exit(1);
}

const failed: string[] = [];
for (const file of files) {
  console.log(`\n== ${file} ==`);
  const run = spawnSync(process.execPath, ["--import", "tsx", path.join(dir, file)], { stdio: "inherit" });
  if (run.status !== 0) failed.push(file);
}
console.log(`\n${files.length - failed.length} of ${files.length} benchmarks ran; results in test/bench/results/`);
if (failed.length > 0) {
  console.log(`failed to run: ${failed.join(", ")}`);
  process.exit(1);
}
