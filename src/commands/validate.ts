/** `oci-image validate [options] <path>...`: layouts, documents or stdin against the image-spec. */
import { Command, Option } from "commander";
import { outputFor, wholeNumber, type CommandContext } from "./context.js";
import type { MeterDisplay } from "../ui/meter-display.js";
import { count } from "../ui/format.js";
import type { CheckedPath } from "../validate/validate-paths.js";
import { VALIDATE_TYPES, type ValidateType } from "../validate/validate-types.js";

interface ValidateFlags {
  type?: ValidateType;
  fast?: boolean;
  jobs?: number;
  json?: boolean;
  quiet?: boolean;
}

export function createValidateCommand(context: CommandContext): Command {
  return new Command("validate")
    .description("check layouts and documents against the OCI image-spec: schemas, rules, blobs, layers and diff_ids")
    .argument("<path...>", "a layout directory (or <layout>:<tag>), a JSON document, or - for stdin")
    .addOption(new Option("-t, --type <type>", "what the paths are (default: detected)").choices(VALIDATE_TYPES))
    .option("--fast", "skip re-hashing and reading layer blobs (sizes are still checked)")
    .option("-j, --jobs <n>", "layers checked at once (default 3)", wholeNumber("--jobs", 1))
    .option("--json", "print one JSON document with the result")
    .option("-q, --quiet", "print only errors")
    .addHelpText(
      "after",
      `
Examples:
  oci-image validate ./images               every ref in the layout, every blob and layer
  oci-image validate ./images:alpine --fast one ref; sizes but no re-hashing
  oci-image validate -t manifest m.json     one document
  curl -s ... | oci-image validate -t index -

Exit status: 0 everything is valid, 1 a problem was found, 2 usage error.`,
    )
    .action((paths: string[], flags: ValidateFlags) => runValidate(context, paths, flags));
}

/** Layer n/N with the layers' bytes read so far, as they are read. */
function layerProgress(display: MeterDisplay) {
  const sizes = new Map<string, number>();
  const reading = new Map<string, number>();
  let finished = 0;
  let done = 0;
  const show = () => display.progress(finished + [...reading.values()].reduce((a, b) => a + b, 0), done);
  return {
    onLayersPlanned(layers: readonly { digest: string; size: number }[]) {
      for (const layer of layers) sizes.set(layer.digest, layer.size);
      display.totals({ bytes: [...sizes.values()].reduce((a, b) => a + b, 0), items: sizes.size });
      show();
    },
    onLayerBytes(digest: string, bytes: number) {
      reading.set(digest, bytes);
      show();
    },
    onLayer(digest: string) {
      reading.delete(digest);
      finished += sizes.get(digest) ?? 0;
      done++;
      show();
    },
  };
}

async function runValidate(context: CommandContext, paths: string[], flags: ValidateFlags): Promise<void> {
  const output = outputFor(context, flags);
  const { validatePaths } = await import("../validate/validate-paths.js");
  const { createLiveArea } = await import("../ui/live-area.js");
  const { createMeterDisplay } = await import("../ui/meter-display.js");
  const area = await createLiveArea(output);
  const display = createMeterDisplay(area, { title: "checking layers", item: "layer" });
  let result;
  try {
    result = await validatePaths(paths, {
      type: flags.type,
      fast: flags.fast,
      concurrency: flags.jobs,
      cwd: context.cwd,
      // Opening stdin costs a run that does not read it (only `-` does) several milliseconds.
      stdin: paths.includes("-") ? context.stdin : undefined,
      signal: context.signal,
      // Live progress on a terminal only; pipes and CI get just the result.
      ...(area.live ? layerProgress(display) : {}),
    });
  } finally {
    display.stop();
  }
  const strip = ({
    where,
    pointer,
    rule,
    message,
  }: {
    where: string;
    pointer: string;
    rule: string;
    message: string;
  }) => ({ where, pointer, rule, message });
  const errors = result.problems.filter((problem) => problem.severity === "error");
  const warnings = result.problems.filter((problem) => problem.severity === "warning");
  const lines = result.problems
    .filter((problem) => problem.severity === "error" || !flags.quiet)
    .map(
      (problem) =>
        `${problem.severity}: ${problem.where}${problem.pointer ? ` ${problem.pointer}` : ""}: ${problem.message} [${problem.rule}]`,
    );
  if (!flags.quiet) lines.push(...result.checked.map(summaryLine));
  output.result(
    {
      ok: result.valid,
      valid: result.valid,
      checked: result.checked,
      errors: errors.map(strip),
      warnings: warnings.map(strip),
    },
    lines,
  );
  context.exitCode = result.valid ? 0 : 1;
}

/** `<path>: valid (layout: 1 ref, 3 blobs, 1 layer read; 0 errors, 0 warnings)` */
function summaryLine(entry: CheckedPath): string {
  const what =
    entry.type === "layout"
      ? `layout: ${count(entry.refs?.length ?? 0, "ref")}, ${count(entry.blobs ?? 0, "blob")}, ${count(entry.layers ?? 0, "layer")} read`
      : (entry.type ?? "unknown kind");
  return `${entry.path}: ${entry.valid ? "valid" : "INVALID"} (${what}; ${count(entry.errors, "error")}, ${count(entry.warnings, "warning")})`;
}
