/**
 * What a path given to validate can be. Apart from the rest of validate, so
 * that the command can list the choices without loading the validators.
 */
import type { DocumentKind } from "../schema/validate-document.js";

export type ValidateType = "layout" | DocumentKind;

export const VALIDATE_TYPES: readonly ValidateType[] = [
  "layout",
  "manifest",
  "index",
  "config",
  "descriptor",
  "oci-layout",
];
