/**
 * Progress of one long step that reads bytes and items (create: the tree's
 * files; validate and unpack: layers): done of total, percent, speed and time
 * left on one live line. Finished steps are printed as lines that stay.
 */
import { count, formatBytes, formatDuration, formatPercent, formatRate } from "./format.js";
import type { LiveArea } from "./live-area.js";
import { RateMeter } from "./rate.js";

export interface MeterTotals {
  bytes?: number;
  items?: number;
}

export interface MeterDisplay {
  /** Totals when known; they may come after the first bytes (a tree still being measured). */
  totals(totals: MeterTotals): void;
  /** Running counts. */
  progress(bytes: number, items: number): void;
  /** The live line's title, e.g. `layer 2/5`. */
  title(text: string): void;
  /** A finished step: a line that stays (in pipes, the only output). */
  persist(line: string): void;
  stop(): void;
}

export interface MeterWords {
  title: string;
  /** What the items are: `layer`, `entry` (with `items: "entries"` when adding "s" is wrong). */
  item: string;
  items?: string;
}

export function createMeterDisplay(area: LiveArea, options: MeterWords): MeterDisplay {
  const rate = new RateMeter();
  const state = { title: options.title, bytes: 0, items: 0, totals: {} as MeterTotals };
  const render = () => meterLine(state, rate, options);
  const show = () => {
    if (area.live) area.show(render);
  };
  return {
    totals(totals) {
      state.totals = { ...state.totals, ...totals };
      show();
    },
    progress(bytes, items) {
      Object.assign(state, { bytes, items });
      rate.record(bytes);
      show();
    },
    title(text) {
      state.title = text;
      show();
    },
    persist: (line) => area.persist(line),
    stop: () => area.stop(),
  };
}

function meterLine(
  state: { title: string; bytes: number; items: number; totals: MeterTotals },
  rate: RateMeter,
  words: MeterWords,
): string[] {
  const { bytes, items, totals } = state;
  const speed = rate.rate();
  const left = totals.bytes !== undefined ? rate.secondsLeft(totals.bytes - bytes) : undefined;
  const parts = [
    `${state.title} ${formatBytes(bytes)}${totals.bytes !== undefined ? ` / ${formatBytes(totals.bytes)}` : ""}`,
    formatPercent(bytes, totals.bytes),
    speed > 0 ? formatRate(speed) : "",
    left !== undefined && bytes < (totals.bytes ?? 0) ? `ETA ${formatDuration(left)}` : "",
    totals.items !== undefined
      ? `${items}/${count(totals.items, words.item, words.items)}`
      : count(items, words.item, words.items),
  ];
  return [parts.filter(Boolean).join("  ")];
}
