/**
 * Where progress is drawn. On a terminal: a few lines redrawn in place under a
 * spinner, each fitted to the terminal's width (read on every frame, so a
 * resize is followed), with finished steps printed above them. Elsewhere
 * (pipes, CI, a terminal without a width): only the finished steps, one plain
 * line each. With --quiet or --json: nothing.
 *
 * The terminal is never put in raw mode: Ctrl-C, Ctrl-Z and Ctrl-\ stay
 * signals, as in any program.
 */
import type { Output } from "./output.js";
import { fitToWidth } from "./format.js";

export interface LiveArea {
  /** Whether lines are drawn in place (a terminal). */
  readonly live: boolean;
  /** A finished step: one line that stays. */
  persist(line: string): void;
  /** A warning (as Output.warn), printed above the live lines. */
  warn(message: string): void;
  /** What to draw; called with the width on every frame (terminal only). */
  show(render: (width: number) => string[]): void;
  /** Clears the live lines and shows the cursor again (before a result or an error). */
  stop(): void;
}

const FRAME_MS = 100;
/** The spinner and its space in front of the first line. */
const SPINNER_COLUMNS = 2;

export async function createLiveArea(output: Output): Promise<LiveArea> {
  const warn = (message: string) => output.warn(message);
  if (output.quiet || output.json) return { live: false, persist() {}, warn, show() {}, stop() {} };
  const columns = () => (output.stderr as { columns?: number }).columns ?? 0;
  if (!output.interactive || columns() <= 0)
    return { live: false, persist: (line) => output.info(line), warn, show() {}, stop() {} };
  return terminalArea(output, columns);
}

async function terminalArea(output: Output, columns: () => number): Promise<LiveArea> {
  const { default: ora } = await import("ora");
  const stream = output.stderr as NodeJS.WriteStream;
  const spinner = ora({
    stream,
    isEnabled: true,
    discardStdin: false,
    hideCursor: true,
    color: output.color ? "cyan" : (false as never),
  });
  let render: ((width: number) => string[]) | undefined;
  // One column is left free: a line that fills the last column wraps on some terminals.
  const frame = () => {
    const width = columns() - 1;
    const lines = render?.(width - SPINNER_COLUMNS) ?? [];
    spinner.text = lines
      .map((line, index) => fitToWidth(line, index === 0 ? width - SPINNER_COLUMNS : width))
      .join("\n");
  };
  let timer: NodeJS.Timeout | undefined;
  // Ctrl-Z: the shell gets its prompt back with the cursor shown and no half-drawn lines; `fg` draws again.
  const suspend = () => {
    spinner.stop();
    process.kill(process.pid, "SIGSTOP");
  };
  const resume = () => {
    if (render) spinner.start();
  };
  process.on("SIGTSTP", suspend);
  process.on("SIGCONT", resume);
  const above = (write: () => void) => {
    const spinning = spinner.isSpinning;
    if (spinning) spinner.clear();
    write();
    if (spinning) spinner.render();
  };
  return {
    live: true,
    persist: (line) => above(() => stream.write(`${fitToWidth(line, columns() - 1)}\n`)),
    warn: (message) => above(() => output.warn(message)),
    show(next) {
      // Called as often as bytes arrive: only the first call draws, the timer draws the rest.
      const first = render === undefined;
      render = next;
      if (!first) return;
      frame();
      if (!spinner.isSpinning) spinner.start();
      timer ??= setInterval(frame, FRAME_MS).unref();
    },
    stop() {
      process.off("SIGTSTP", suspend);
      process.off("SIGCONT", resume);
      clearInterval(timer);
      timer = undefined;
      render = undefined;
      spinner.stop();
    },
  };
}
