/** The pieces of the progress display, at unit level: fitting, amounts, speed, the transfer's lines. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fitToWidth, formatDuration, formatPercent } from "../../src/ui/format.js";
import type { LiveArea } from "../../src/ui/live-area.js";
import { RateMeter } from "../../src/ui/rate.js";
import { createTransferDisplay } from "../../src/ui/transfer-display.js";
import { widestLine } from "../helpers/pty.js";

test("fitToWidth cuts with an ellipsis and never lets a control character through", () => {
  assert.equal(fitToWidth("abcdef", 6), "abcdef");
  assert.equal(fitToWidth("abcdefg", 6), "abcde…");
  assert.equal(fitToWidth("a\u001b[2Jb\rc", 20), "a?[2Jb?c");
  assert.equal(fitToWidth("abc", 0), "");
});

test("durations, percents", () => {
  assert.equal(formatDuration(7), "0:07");
  assert.equal(formatDuration(205), "3:25");
  assert.equal(formatDuration(3729), "1:02:09");
  assert.equal(formatPercent(1, 3), "33%");
  assert.equal(formatPercent(5, 0), "");
  assert.equal(formatPercent(7, 5), "100%");
});

test("the speed is over the last seconds, so the time left follows a change of pace", () => {
  let now = 0;
  const rate = new RateMeter(() => now);
  for (let second = 0; second <= 10; second++) {
    now = second * 1000;
    rate.record(second * 1_000_000);
  }
  assert.equal(Math.round(rate.rate()), 1_000_000);
  for (let second = 11; second <= 20; second++) {
    now = second * 1000;
    rate.record(10_000_000 + (second - 10) * 100_000);
  }
  assert.ok(rate.rate() < 150_000, `still ${rate.rate()} B/s after 10 s at 100 kB/s`);
  assert.equal(Math.round(rate.secondsLeft(1_000_000)!), 10);
});

test("the transfer's lines: the image's total and percent first, then the blobs in flight", () => {
  let render: ((width: number) => string[]) | undefined;
  const area: LiveArea = { live: true, persist() {}, warn() {}, show: (next) => (render = next), stop() {} };
  const display = createTransferDisplay(area, { doing: "fetching", done: "fetched" });
  const blobs = [1, 2, 3, 4, 5].map((i) => ({ digest: `sha256:${String(i).repeat(64)}`, size: 1_000_000 }));
  display.planned(blobs);
  display.skipped(blobs[0]!);
  const tasks = blobs.slice(1).map((blob) => display.started(blob));
  tasks[0]!.update(500_000);
  const lines = render!(80);
  assert.match(lines[0]!, /^fetching 1\.5 MB \/ 5\.0 MB {2}30% .*1\/5 blobs$/);
  assert.equal(lines.length, 5, "three blobs in flight shown, then how many more");
  assert.match(lines[4]!, /and 1 more/);
  tasks[0]!.failed();
  assert.match(render!(80)[0]!, /^fetching 1\.0 MB \/ 5\.0 MB/, "a failed attempt's bytes are not counted");
});

test("widestLine counts columns as a terminal places characters", () => {
  assert.equal(widestLine("abc\r\nabcdef\r\n"), 6);
  assert.equal(widestLine("abcdef\u001b[1G\u001b[0Kxy"), 6);
  assert.equal(widestLine("\u001b[?25l⠋ ab…\u001b[?25h"), 5);
  assert.equal(widestLine("abc^Cde"), 5, "the terminal's echo of Ctrl-C is not counted");
});
