/**
 * Runs commands under GNU time (wall clock from the parent's monotonic clock,
 * peak resident memory from `%M`), alternating the candidates of an operation
 * run by run so that drift in the machine's load hits every tool alike.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const GNU_TIME = "/usr/bin/time";

export type Role = "ours" | "peer" | "floor" | "baseline";

export interface Candidate {
  /** Short label for the table, e.g. `oci-image`, `skopeo copy`. */
  name: string;
  role: Role;
  /** Program and arguments; run as is (no shell) unless it is `sh -c …`. */
  argv: string[];
  /** Untimed work before each run (empty the output directory, copy a seed layout). */
  prepare?: () => Promise<void>;
  /** A floor computed, not run (a link's bytes ÷ bandwidth): every sample is this. */
  fixedSeconds?: number;
  /** A floor measured by other means than its wall time (CPU seconds ÷ cores): each run's sample is what it returns. */
  measureSeconds?: () => Promise<number>;
}

/**
 * A target: median(ours) / median(the candidate whose name starts with `against`)
 * at most `atMost`; or ours' median peak memory at most `peakMiB`.
 */
export type Target = { against: string; atMost: number } | { peakMiB: number };

/** Every command's peak memory, whatever the image. */
export const MEMORY_TARGET: Target = { peakMiB: 128 };

export type TargetResult = Target & {
  /** The ratio or the peak in MiB; undefined when a side has no figures. */
  measured?: number;
  holds: boolean;
};

export interface Operation {
  id: string;
  group: string;
  title: string;
  candidates: Candidate[];
  /** More runs for operations that take milliseconds. */
  runsFactor?: number;
  /** Counted and warm-up runs of this operation, whatever the run's options (a long, memory-only row). */
  runs?: number;
  warmup?: number;
  targets?: Target[];
}

export interface Sample {
  seconds: number;
  peakKiB: number;
}

export interface CandidateResult {
  name: string;
  role: Role;
  command: string;
  /** Why there are no figures: a placeholder command or a failure. */
  unavailable?: string;
  samples: Sample[];
  median?: number;
  min?: number;
  max?: number;
  peakKiBMedian?: number;
}

export interface Comparison {
  against: string;
  /** median(ours) / median(theirs) */
  ratio: number;
  /** Range of the per-round ratios (rounds alternate the tools). */
  ratioMin: number;
  ratioMax: number;
}

export interface OperationResult {
  id: string;
  group: string;
  title: string;
  runs: number;
  candidates: CandidateResult[];
  comparisons: Comparison[];
  targets?: TargetResult[];
}

export interface RunOptions {
  runs: number;
  warmup: number;
  log: (line: string) => void;
}

interface RunOutcome {
  status: number | null;
  sample: Sample;
  stderr: string;
}

/** One timed run of a command. */
export async function timeCommand(argv: string[], scratch: string): Promise<RunOutcome> {
  const report = join(scratch, `time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const started = process.hrtime.bigint();
  const { status, stderr } = await new Promise<{ status: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(GNU_TIME, ["-f", "%e %M", "-o", report, ...argv], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let text = "";
    child.stderr.on("data", (chunk: Buffer) => {
      text = (text + chunk.toString()).slice(-4000);
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code, stderr: text }));
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  let peakKiB = NaN;
  try {
    // GNU time writes "Command exited with non-zero status N" before the figures when the command fails.
    const lines = (await readFile(report, "utf8")).trim().split("\n");
    peakKiB = Number(lines.at(-1)!.split(" ")[1]);
    await rm(report, { force: true });
  } catch {
    // No report: the command could not be started at all.
  }
  return { status, sample: { seconds, peakKiB }, stderr };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Says why a failed run happened, in one line; a command still being a placeholder reads "not available". */
export function describeFailure(status: number | null, stderr: string): string {
  if (/not built yet|NOT_IMPLEMENTED/.test(stderr)) return "not available (the command is not built yet)";
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  // Prefer the line that names an error over a crash's source excerpt.
  const line = lines.find((l) => /^oci-image: |\b\w*Error\b/.test(l)) ?? lines[0] ?? "";
  return `failed (exit ${status}): ${line.slice(0, 160)}`;
}

export async function runOperation(operation: Operation, options: RunOptions): Promise<OperationResult> {
  const scratch = await mkdtemp(join(tmpdir(), "oci-image-bench-time-"));
  const runs = operation.runs ?? Math.max(1, Math.round(options.runs * (operation.runsFactor ?? 1)));
  const warmup = operation.warmup ?? options.warmup;
  const results: CandidateResult[] = operation.candidates.map((c) => ({
    name: c.name,
    role: c.role,
    command:
      c.fixedSeconds !== undefined
        ? `computed: ${c.fixedSeconds.toFixed(3)} s`
        : c.measureSeconds
          ? "measured in the bench process"
          : c.argv.join(" "),
    samples: [],
  }));
  const live = () =>
    operation.candidates
      .map((candidate, index) => ({ candidate, result: results[index]! }))
      .filter(({ result }) => !result.unavailable);
  const once = async (candidate: Candidate, result: CandidateResult, counted: boolean) => {
    if (candidate.fixedSeconds !== undefined) {
      if (counted) result.samples.push({ seconds: candidate.fixedSeconds, peakKiB: NaN });
      return;
    }
    if (candidate.measureSeconds) {
      await candidate.prepare?.();
      const seconds = await candidate.measureSeconds();
      if (counted) result.samples.push({ seconds, peakKiB: NaN });
      return;
    }
    await candidate.prepare?.();
    // The previous run's dirty pages are written back now, not during this run's time.
    await timeCommand(["sync"], scratch);
    const outcome = await timeCommand(candidate.argv, scratch);
    if (outcome.status !== 0) {
      result.unavailable = describeFailure(outcome.status, outcome.stderr);
      result.samples = [];
      options.log(`  ${candidate.name}: ${result.unavailable}`);
      return;
    }
    if (counted) result.samples.push(outcome.sample);
  };
  try {
    options.log(
      `${operation.title}: ${warmup} warm-up + ${runs} counted run(s) of ${operation.candidates.map((c) => c.name).join(", ")}`,
    );
    for (let round = 0; round < warmup; round++)
      for (const { candidate, result } of live()) await once(candidate, result, false);
    for (let round = 0; round < runs; round++)
      for (const { candidate, result } of live()) await once(candidate, result, true);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  for (const result of results) {
    if (result.unavailable || result.samples.length === 0) continue;
    const times = result.samples.map((s) => s.seconds);
    result.median = median(times);
    result.min = Math.min(...times);
    result.max = Math.max(...times);
    result.peakKiBMedian = median(result.samples.map((s) => s.peakKiB));
  }
  const comparisons = compare(results);
  return {
    id: operation.id,
    group: operation.group,
    title: operation.title,
    runs,
    candidates: results,
    comparisons,
    ...(operation.targets ? { targets: checkTargets(operation.targets, comparisons, results) } : {}),
  };
}

function checkTargets(targets: Target[], comparisons: Comparison[], results: CandidateResult[]): TargetResult[] {
  const ours = results.find((result) => result.role === "ours");
  return targets.map((target) => {
    if ("peakMiB" in target) {
      const peak = ours?.peakKiBMedian === undefined ? undefined : ours.peakKiBMedian / 1024;
      return { ...target, measured: peak, holds: peak !== undefined && peak <= target.peakMiB };
    }
    const ratio = comparisons.find((comparison) => comparison.against.startsWith(target.against))?.ratio;
    return { ...target, measured: ratio, holds: ratio !== undefined && ratio <= target.atMost };
  });
}

function compare(results: CandidateResult[]): Comparison[] {
  const ours = results.find((r) => r.role === "ours");
  if (!ours?.median) return [];
  return results
    .filter((r) => r !== ours && r.median)
    .map((other) => {
      const rounds = Math.min(ours.samples.length, other.samples.length);
      const ratios = Array.from({ length: rounds }, (_, i) => ours.samples[i]!.seconds / other.samples[i]!.seconds);
      return {
        against: other.name,
        ratio: ours.median! / other.median!,
        ratioMin: Math.min(...ratios),
        ratioMax: Math.max(...ratios),
      };
    });
}
