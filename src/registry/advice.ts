/**
 * What a person could do about a registry error, as a code the command turns
 * into its own words (`-u`, `--insecure`, `--platform`): the library names no
 * command-line flag.
 */
export type Advice = "log-in" | "skip-tls-check" | "choose-platform" | "single-platform";

const ADVICE = Symbol("oci-image.advice");

export function withAdvice<T extends Error>(error: T, advice: Advice): T {
  Object.defineProperty(error, ADVICE, { value: advice, enumerable: false });
  return error;
}

export function adviceOf(error: unknown): Advice | undefined {
  return typeof error === "object" && error !== null ? (error as { [ADVICE]?: Advice })[ADVICE] : undefined;
}
