/**
 * Progress of a transfer of blobs (fetch, push): the whole image's bytes done
 * of its total, percent, speed and time left, and the few blobs in flight. In
 * pipes, one line per finished blob.
 */
import { count, formatBytes, formatDuration, formatPercent, formatRate } from "./format.js";
import type { LiveArea } from "./live-area.js";
import { RateMeter } from "./rate.js";

export interface TransferItem {
  digest: string;
  size: number;
}

export interface TransferTask {
  /** Bytes of this blob received (or sent) so far in this attempt. */
  update(bytes: number): void;
  done(): void;
  failed(): void;
}

export interface TransferDisplay {
  /** The blobs the transfer will need, once known: they make the total. */
  planned(items: readonly TransferItem[]): void;
  started(item: TransferItem): TransferTask;
  skipped(item: TransferItem): void;
  stop(): void;
}

export interface TransferWords {
  /** `fetching`: the live line's title. */
  doing: string;
  /** `fetched`: a finished blob. */
  done: string;
}

type Status = "waiting" | "moving" | "done";
interface BlobState {
  size: number;
  bytes: number;
  status: Status;
}

/** How many blobs in flight get a line of their own. */
const SHOWN_IN_FLIGHT = 3;

export function shortDigest(digest: string): string {
  return digest.slice(0, 19);
}

export function createTransferDisplay(area: LiveArea, words: TransferWords): TransferDisplay {
  const blobs = new Map<string, BlobState>();
  const rate = new RateMeter();
  let moved = 0;
  const add = (item: TransferItem) => {
    let state = blobs.get(item.digest);
    if (!state) blobs.set(item.digest, (state = { size: item.size, bytes: 0, status: "waiting" }));
    return state;
  };
  const render = () => transferLines(blobs, rate, words);
  return {
    planned(items) {
      for (const item of items) add(item);
      if (area.live) area.show(render);
    },
    started(item) {
      const state = add(item);
      Object.assign(state, { bytes: 0, status: "moving" });
      if (area.live) area.show(render);
      return {
        update(bytes) {
          moved += Math.max(0, bytes - state.bytes);
          state.bytes = bytes;
          rate.record(moved);
        },
        done() {
          Object.assign(state, { bytes: state.size, status: "done" });
          if (!area.live) area.persist(`${shortDigest(item.digest)} ${words.done} (${formatBytes(item.size)})`);
        },
        failed() {
          Object.assign(state, { bytes: 0, status: "waiting" });
          if (!area.live) area.persist(`${shortDigest(item.digest)} failed`);
        },
      };
    },
    skipped(item) {
      Object.assign(add(item), { bytes: item.size, status: "done" });
      area.persist(`${shortDigest(item.digest)} already present`);
    },
    stop: () => area.stop(),
  };
}

/** The events a pull (or push) reports, shown on `display`: pass as its `events`. */
export function transferEvents(display: TransferDisplay, warn: (message: string) => void) {
  return {
    blobsPlanned: (items: readonly TransferItem[]) => display.planned(items),
    blobStarted(item: TransferItem) {
      const task = display.started(item);
      return { update: (bytes: number) => task.update(bytes), done: () => task.done(), failed: () => task.failed() };
    },
    blobSkipped: (item: TransferItem) => display.skipped(item),
    warning: warn,
  };
}

function transferLines(blobs: Map<string, BlobState>, rate: RateMeter, words: TransferWords): string[] {
  let total = 0;
  let done = 0;
  let finished = 0;
  const moving: [string, BlobState][] = [];
  for (const [digest, state] of blobs) {
    total += state.size;
    done += state.bytes;
    if (state.status === "done") finished++;
    if (state.status === "moving") moving.push([digest, state]);
  }
  const speed = rate.rate();
  const left = rate.secondsLeft(total - done);
  const head = [
    `${words.doing} ${formatBytes(done)} / ${formatBytes(total)}`,
    formatPercent(done, total),
    speed > 0 ? formatRate(speed) : "",
    left !== undefined && done < total ? `ETA ${formatDuration(left)}` : "",
    `${finished}/${count(blobs.size, "blob")}`,
  ];
  const lines = [head.filter(Boolean).join("  ")];
  moving.sort((a, b) => b[1].size - b[1].bytes - (a[1].size - a[1].bytes));
  for (const [digest, state] of moving.slice(0, SHOWN_IN_FLIGHT))
    lines.push(
      `  ${shortDigest(digest)}  ${formatBytes(state.bytes)} / ${formatBytes(state.size)}  ${formatPercent(state.bytes, state.size)}`,
    );
  if (moving.length > SHOWN_IN_FLIGHT) lines.push(`  and ${moving.length - SHOWN_IN_FLIGHT} more`);
  return lines;
}
