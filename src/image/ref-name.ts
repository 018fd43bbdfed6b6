/** Ref names: the value of `org.opencontainers.image.ref.name` (annotations.md). */

/** `component ("/" component)*`, components of alphanumerics joined by `-._:@+` or `--`. */
const REF_NAME = /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

export function isValidRefName(name: string): boolean {
  return REF_NAME.test(name);
}
