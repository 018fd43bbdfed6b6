/** What validation reports: every problem found, each with a place and a rule. */

export type Severity = "error" | "warning";

export interface Problem {
  /** The file (or `-`) or blob digest the problem is in. */
  where: string;
  /** JSON pointer inside that document ("" for the whole document). */
  pointer: string;
  /** A stable, kebab-case rule name, e.g. `digest-invalid`. */
  rule: string;
  message: string;
  severity: Severity;
}

/** Collects problems for one document; pointers are relative to `base`. */
export class ProblemList {
  readonly problems: Problem[] = [];
  constructor(
    readonly where: string,
    readonly base = "",
  ) {}

  error(pointer: string, rule: string, message: string): void {
    this.problems.push({ where: this.where, pointer: this.base + pointer, rule, message, severity: "error" });
  }

  warn(pointer: string, rule: string, message: string): void {
    this.problems.push({ where: this.where, pointer: this.base + pointer, rule, message, severity: "warning" });
  }
}

/** RFC 6901: `~` and `/` escaped in a pointer token. */
export function pointerToken(token: string | number): string {
  return String(token).replace(/~/g, "~0").replace(/\//g, "~1");
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((problem) => problem.severity === "error");
}
