/**
 * Progress for long steps: an ora spinner with byte counts on a terminal, one
 * plain line per finished step otherwise, nothing with --quiet or --json.
 */
import type { Output } from "./output.js";

export interface ProgressTask {
  /** Running byte count (and total when known). */
  update(bytes: number, total?: number): void;
  succeed(text?: string): void;
  fail(text?: string): void;
}

export interface Progress {
  start(label: string): ProgressTask;
  /** Stops any live display (before printing a result or an error). */
  stop(): void;
}

export async function createProgress(output: Output): Promise<Progress> {
  if (output.quiet || output.json) return silentProgress;
  // A live display needs a terminal with a width; one that reports none (a bare pty) gets plain lines.
  const columns = (output.stderr as { columns?: number }).columns ?? 0;
  if (!output.interactive || columns <= 0) return plainProgress(output);
  return spinnerProgress(output);
}

const silentTask: ProgressTask = { update() {}, succeed() {}, fail() {} };
const silentProgress: Progress = { start: () => silentTask, stop() {} };

function plainProgress(output: Output): Progress {
  return {
    start(label) {
      let last = 0;
      return {
        update(bytes) {
          last = bytes;
        },
        succeed(text) {
          output.info(text ?? (last ? `${label} (${formatBytes(last)})` : label));
        },
        fail(text) {
          output.info(text ?? `${label}: failed`);
        },
      };
    },
    stop() {},
  };
}

/** One spinner line summarising every running task, redrawn at most 10 times a second. */
async function spinnerProgress(output: Output): Promise<Progress> {
  const { default: ora } = await import("ora");
  const spinner = ora({
    stream: output.stderr as NodeJS.WritableStream,
    color: output.color ? "cyan" : (false as never),
  });
  const running = new Map<number, { label: string; bytes: number; total?: number; started: number }>();
  let nextId = 0;
  let lastDraw = 0;
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const parts = [...running.values()].map(({ label, bytes, total, started }) => {
      const seconds = Math.max((now - started) / 1000, 0.001);
      const amount = total ? `${formatBytes(bytes)}/${formatBytes(total)}` : formatBytes(bytes);
      return `${label} ${amount} ${formatBytes(bytes / seconds)}/s`;
    });
    spinner.text = parts.join("  ·  ");
    if (running.size > 0 && !spinner.isSpinning) spinner.start();
  };
  return {
    start(label) {
      const id = nextId++;
      running.set(id, { label, bytes: 0, started: Date.now() });
      draw(true);
      const finish = (symbol: "succeed" | "fail", text: string) => {
        running.delete(id);
        spinner.stopAndPersist({ symbol: symbol === "succeed" ? "✔" : "✖", text });
        if (running.size > 0) draw(true);
      };
      return {
        update(bytes, total) {
          const task = running.get(id);
          if (task) Object.assign(task, { bytes, total });
          draw();
        },
        succeed(text) {
          const task = running.get(id);
          finish("succeed", text ?? (task?.bytes ? `${label} (${formatBytes(task.bytes)})` : label));
        },
        fail(text) {
          finish("fail", text ?? `${label}: failed`);
        },
      };
    },
    stop() {
      running.clear();
      spinner.stop();
    },
  };
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
