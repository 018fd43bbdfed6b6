/**
 * `npm run bench [-- options]`: oci-image against its peers on the same inputs.
 * See bench/README.md for what is measured and how the inputs are made.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { defaultCacheDir, ensureImages, startBenchRegistry, type BenchRegistry, type InputSize } from "./inputs.js";
import { describeMachine, formatMachine } from "./machine.js";
import { runOperation, type OperationResult } from "./measure.js";
import { buildOperations, OPERATION_GROUPS, type OperationGroup } from "./operations.js";
import { formatMarkdown, formatTable, formatTargets } from "./report.js";
import { prepareWan, type WanSetup } from "./wan.js";
import { ensureBigImage } from "./big.js";

const USAGE = `usage: npm run bench -- [options]

  --quick             fewer runs (3) on the small image; under two minutes once inputs are cached
  --only <list>       comma-separated: ${OPERATION_GROUPS.join(",")}
                      (wan: fetch of a 300 MB layer through a WAN-like link, against skopeo and the link's floor;
                       big: peak memory of every command on an image of one 1 GiB layer)
  --runs <n>          counted runs per tool (default 5; 3 with --quick)
  --warmup <n>        uncounted runs per tool first (default 1)
  --size full|small   input image (default full; small with --quick)
  --cache-dir <dir>   where inputs are cached (default \${XDG_CACHE_HOME:-~/.cache}/oci-image-bench)
  --json              print the results as one JSON document on stdout (the table goes to stderr)
`;

const BIN = fileURLToPath(new URL("../../bin/oci-image", import.meta.url));

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function count(name: string, value: string | undefined, fallback: number, minimum: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < minimum) fail(`--${name} must be a whole number ≥ ${minimum}`);
  return Number(value);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        quick: { type: "boolean" },
        only: { type: "string" },
        runs: { type: "string" },
        warmup: { type: "string" },
        size: { type: "string" },
        "cache-dir": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const flags = parsed.values;
  if (flags.help) {
    process.stdout.write(USAGE);
    return;
  }
  const quick = flags.quick === true;
  const runs = count("runs", flags.runs, quick ? 3 : 5, 1);
  const warmup = count("warmup", flags.warmup, 1, 0);
  const size = (flags.size ?? (quick ? "small" : "full")) as InputSize;
  if (size !== "full" && size !== "small") fail(`--size must be full or small, not ${flags.size}`);
  const groups = (flags.only
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean) ?? [...OPERATION_GROUPS]) as OperationGroup[];
  for (const group of groups) if (!OPERATION_GROUPS.includes(group)) fail(`unknown operation "${group}"`);
  const cache = flags["cache-dir"] ?? defaultCacheDir();
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const machine = describeMachine();
  log(formatMachine(machine));
  log(`inputs cached in ${cache}`);
  const images = await ensureImages(cache, [size], log);
  const image = images[size]!;
  const work = await mkdtemp(join(tmpdir(), "oci-image-bench-"));
  let registry: BenchRegistry | undefined;
  let wan: WanSetup | undefined;
  const cleanUp = async () => {
    await wan?.link.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  };
  process.once("SIGINT", () => {
    log("interrupted; cleaning up");
    void cleanUp().finally(() => process.exit(130));
  });
  const results: OperationResult[] = [];
  try {
    const needsRegistry = ["fetch", "push", "wan", "big"].some((group) => groups.includes(group as OperationGroup));
    if (needsRegistry) registry = await startBenchRegistry(cache, [image], log);
    if (groups.includes("wan") && registry) wan = await prepareWan(registry, log);
    const big = groups.includes("big") ? await ensureBigImage(cache, log) : undefined;
    const ociImage = [process.execPath, BIN];
    const operations = buildOperations(groups, { image, registry, work, ociImage, wan, big });
    for (const operation of operations) {
      const result = await runOperation(operation, { runs, warmup, log });
      results.push(result);
      log(formatTable([result]));
      if (result.targets) log(formatTargets([result]));
    }
  } finally {
    await cleanUp();
  }

  const input = `${size} image: ${image.layers.length} gzip layers, ${(image.layers.reduce((sum, l) => sum + l.size, 0) / 2 ** 20).toFixed(0)} MB compressed; tree ${image.rootfs}`;
  const targets = formatTargets(results);
  const table = [
    `Input: ${input}`,
    "",
    formatTable(results),
    ...(targets ? ["", targets] : []),
    "",
    "Markdown:",
    "",
    formatMarkdown(results),
  ].join("\n");
  if (flags.json) {
    log(table);
    process.stdout.write(
      `${JSON.stringify({ machine, input: { size, layers: image.layers, rootfs: image.rootfs }, runs, warmup, results }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(`\n${formatMachine(machine)}\n${table}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
