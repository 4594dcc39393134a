// How a benchmark reports: a ratio against a baseline measured in the same run, the target it is held to, the
// raw numbers behind it, a one-line verdict on stdout, and a JSON file under test/bench/results/.
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface Check {
  /** What is compared, e.g. "throughput vs raw grpc-js". */
  label: string;
  /** Measured value (a ratio, or an absolute value with its unit in `unit`). */
  value: number;
  /** The target the value is held to. */
  target: number;
  /** "min": value must be ≥ target; "max": value must be ≤ target. */
  kind: "min" | "max";
  unit?: string;
}

export interface BenchmarkResult {
  name: string;
  checks: Check[];
  /** Raw measurements (throughputs, percentiles, sizes) kept for the record. */
  measurements: Record<string, unknown>;
}

export function passes(check: Check): boolean {
  return check.kind === "min" ? check.value >= check.target : check.value <= check.target;
}

function describe(check: Check): string {
  const unit = check.unit ?? "×";
  const op = check.kind === "min" ? "≥" : "≤";
  const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(3));
  return `${check.label}: ${fmt(check.value)}${unit} (target ${op} ${fmt(check.target)}${unit}) ${passes(check) ? "MET" : "MISSED"}`;
}

/** Prints the verdict lines and writes test/bench/results/<name>.json. */
export function report(result: BenchmarkResult): void {
  const allMet = result.checks.every(passes);
  for (const check of result.checks) console.log(`  ${describe(check)}`);
  console.log(`BENCH ${result.name}: ${allMet ? "all targets met" : "some targets missed"}`);
  const dir = path.join(__dirname, "..", "results");
  mkdirSync(dir, { recursive: true });
  const record = {
    ...result,
    allTargetsMet: allMet,
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryBytes: os.totalmem(), node: process.version },
  };
  writeFileSync(path.join(dir, `${result.name}.json`), JSON.stringify(record, null, 2) + "\n");
}

/** Percentile (0–100) of an unsorted sample, by nearest rank. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}
