/** `inspect`'s human summary: one field a line, lists indented under their heading. */
import type { InspectSummary } from "../image/inspect.js";
import { formatBytes } from "./format.js";

const WIDTH = 15;

function field(name: string, values: string[]): string[] {
  if (values.length === 0) return [];
  return values.map((value, i) => `${(i === 0 ? name : "").padEnd(WIDTH)}${value}`);
}

function pairs(record: Record<string, string> | undefined): string[] {
  return Object.entries(record ?? {}).map(([key, value]) => `${key}=${value}`);
}

export function inspectLines(summary: InspectSummary): string[] {
  const lines = [
    ...field("Reference", [summary.reference]),
    ...field("Digest", [summary.digest]),
    ...field("Media type", [summary.mediaType]),
    ...field("Artifact type", summary.artifactType ? [summary.artifactType] : []),
    ...field("Created", summary.created ? [summary.created] : []),
    ...field("Platform", summary.platform ? [summary.platform] : []),
    ...field("Subject", summary.subject ? [summary.subject] : []),
    ...field("Size", summary.size !== undefined ? [formatBytes(summary.size)] : []),
  ];
  if (summary.manifests) {
    const width = Math.max(0, ...summary.manifests.map((entry) => (entry.platform ?? "-").length));
    lines.push(
      ...field(
        "Platforms",
        summary.manifests.map((entry) => `${(entry.platform ?? "-").padEnd(width)}  ${entry.digest}`),
      ),
    );
  }
  if (summary.layers) {
    const layers = summary.layers.map(
      (layer) => `${layer.digest}  ${formatBytes(layer.size).padStart(9)}  ${layer.mediaType}`,
    );
    lines.push(...field("Layers", layers.length ? layers : ["(none)"]));
  }
  const config = summary.config ?? {};
  lines.push(
    ...field("Env", config.Env ?? []),
    ...field("Entrypoint", config.Entrypoint ? [JSON.stringify(config.Entrypoint)] : []),
    ...field("Cmd", config.Cmd ? [JSON.stringify(config.Cmd)] : []),
    ...field("User", config.User ? [config.User] : []),
    ...field("WorkingDir", config.WorkingDir ? [config.WorkingDir] : []),
    ...field(
      "ExposedPorts",
      Object.keys(config.ExposedPorts ?? {}).length ? [Object.keys(config.ExposedPorts!).join(", ")] : [],
    ),
    ...field("Labels", pairs(config.Labels)),
    ...field("Annotations", pairs(summary.annotations)),
  );
  return lines;
}
