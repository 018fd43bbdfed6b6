/** The results as a terminal table and as a markdown table for the README. */
import type { CandidateResult, OperationResult } from "./measure.js";

function seconds(value: number): string {
  return value < 1 ? `${(value * 1000).toFixed(0)} ms` : `${value.toFixed(2)} s`;
}

function memory(kib: number | undefined): string {
  return kib === undefined || Number.isNaN(kib) ? "–" : `${(kib / 1024).toFixed(0)} MB`;
}

interface Row {
  operation: string;
  tool: string;
  median: string;
  range: string;
  peak: string;
  ratio: string;
}

function rowsOf(results: OperationResult[]): Row[] {
  const rows: Row[] = [];
  for (const result of results) {
    const ours = result.candidates.find((c) => c.role === "ours");
    result.candidates.forEach((candidate: CandidateResult, index) => {
      const comparison = result.comparisons.find((c) => c.against === candidate.name);
      const ratio =
        candidate === ours
          ? ""
          : comparison
            ? `${comparison.ratio.toFixed(2)}× (${comparison.ratioMin.toFixed(2)}–${comparison.ratioMax.toFixed(2)})`
            : ours?.unavailable
              ? "–"
              : "";
      rows.push({
        operation: index === 0 ? `${result.title} (n=${result.runs})` : "",
        tool: candidate.name,
        median: candidate.unavailable ? candidate.unavailable : seconds(candidate.median!),
        range: candidate.unavailable ? "" : `${seconds(candidate.min!)}–${seconds(candidate.max!)}`,
        peak: candidate.unavailable ? "" : memory(candidate.peakKiBMedian),
        ratio,
      });
    });
  }
  return rows;
}

const HEADERS: Row = {
  operation: "Operation",
  tool: "Tool",
  median: "Median",
  range: "Min–max",
  peak: "Peak RSS",
  ratio: "oci-image / this (min–max)",
};
const COLUMNS = Object.keys(HEADERS) as (keyof Row)[];

export function formatTable(results: OperationResult[]): string {
  const rows = [HEADERS, ...rowsOf(results)];
  const widths = COLUMNS.map((column) => Math.max(...rows.map((row) => row[column].length)));
  const line = (row: Row) =>
    COLUMNS.map((column, i) => row[column].padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

export function formatMarkdown(results: OperationResult[]): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|");
  const rows = rowsOf(results);
  return [
    `| ${COLUMNS.map((c) => HEADERS[c]).join(" | ")} |`,
    `|${COLUMNS.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${COLUMNS.map((c) => cell(row[c])).join(" | ")} |`),
  ].join("\n");
}

/** One line per target: the ratio measured, the bound, and whether it holds. */
export function formatTargets(results: OperationResult[]): string {
  return results
    .flatMap((result) =>
      (result.targets ?? []).map((target) => {
        const verdict = target.holds ? "holds" : "MISSED";
        if ("peakMiB" in target) {
          const measured = target.measured === undefined ? "no figures" : `${target.measured.toFixed(0)} MiB`;
          return `target: ${result.title}: oci-image peak memory ≤ ${target.peakMiB} MiB: ${measured}, ${verdict}`;
        }
        const measured = target.measured === undefined ? "no figures" : `${target.measured.toFixed(2)}×`;
        return `target: ${result.title}: oci-image / ${target.against} ≤ ${target.atMost}×: ${measured}, ${verdict}`;
      }),
    )
    .join("\n");
}
