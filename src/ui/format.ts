/** How amounts read on a terminal and in messages: bytes, rates, durations, counts of things. */

/** `1 blob`, `2 blobs`: the one place a count meets its noun (`plural` when adding "s" is wrong). */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** `0:07`, `3:25`, `1:02:09`: how long is left. */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** `37%` of a known total; empty when the total is unknown. */
export function formatPercent(done: number, total: number | undefined): string {
  if (!total) return "";
  return `${Math.min(100, Math.floor((done / total) * 100))}%`;
}

/**
 * A line cut to fit `width` columns, ending in `…` when cut. Text from outside
 * (names, digests) is printable ASCII here or counted one column per code
 * point; control characters are replaced so they can't move the cursor.
 */
export function fitToWidth(line: string, width: number): string {
  const clean = line.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  const chars = [...clean];
  if (chars.length <= width) return clean;
  if (width <= 1) return chars.slice(0, Math.max(0, width)).join("");
  return `${chars.slice(0, width - 1).join("")}…`;
}
