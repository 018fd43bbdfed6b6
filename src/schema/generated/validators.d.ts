/**
 * The module scripts/build-schemas.mjs generates into dist/src/schema/generated/
 * after tsc has run: one validator per schema (named in definitions.ts) and the
 * fingerprint of the schemas it was made from; validators.ts checks both.
 */
export declare const SCHEMAS_FINGERPRINT: string;
