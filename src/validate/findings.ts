/** How validate's walk records what it finds: one problem per call, with a place and a rule. */
import type { Problem } from "../schema/problem.js";

export type Report = (
  where: string,
  pointer: string,
  rule: string,
  message: string,
  severity?: Problem["severity"],
) => void;

/** A Report that appends to `problems`. */
export function reportInto(problems: Problem[]): Report {
  return (where, pointer, rule, message, severity = "error") =>
    problems.push({ where, pointer, rule, message, severity });
}
