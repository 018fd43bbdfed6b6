/**
 * JSON Schemas (draft-07) of the image-spec v1.1.1 documents, written from the
 * specification's prose (descriptor.md, manifest.md, image-index.md, config.md,
 * image-layout.md). They hold what a schema can say: shapes, types, required
 * fields, the media-type and digest grammars. Everything else (registered digest
 * algorithms, `data` against size and digest, RFC 3339, RFC 3986, Env, ports,
 * ref names, cross-field rules) is in the rules modules.
 *
 * Optional config fields also accept `null`: a null optional field counts as
 * absent (Go's decoders, and so most image builders, treat it that way).
 */

export type SchemaName = "descriptor" | "manifest" | "index" | "config" | "oci-layout";

export const SCHEMA_NAMES: readonly SchemaName[] = ["descriptor", "manifest", "index", "config", "oci-layout"];

const BASE = "https://oci-image.invalid/schema/";

export function schemaId(name: SchemaName | "defs"): string {
  return `${BASE}${name}.json`;
}

const defsRef = (name: string) => ({ $ref: `${schemaId("defs")}#/definitions/${name}` });

/** Shared definitions: the grammars and small shapes every document uses. */
const defs = {
  $id: schemaId("defs"),
  definitions: {
    // RFC 6838 section 4.2: type "/" subtype, each a restricted name of 1 to 127 characters.
    mediaType: {
      type: "string",
      pattern: "^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$",
    },
    // descriptor.md: algorithm (components joined by + . _ -) ":" encoded.
    digest: {
      type: "string",
      pattern: "^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$",
    },
    // int64 >= 0; above 2^53-1 a JavaScript number is no longer exact, so it is refused.
    size: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    stringMap: { type: "object", additionalProperties: { type: "string" } },
    nullableStringMap: { type: ["object", "null"], additionalProperties: { type: "string" } },
    nullableObjectMap: { type: ["object", "null"], additionalProperties: { type: "object" } },
    stringArray: { type: "array", items: { type: "string" } },
    nullableStringArray: { type: ["array", "null"], items: { type: "string" } },
    platform: {
      type: "object",
      required: ["architecture", "os"],
      properties: {
        architecture: { type: "string" },
        os: { type: "string" },
        "os.version": { type: "string" },
        "os.features": { type: "array", items: { type: "string" } },
        variant: { type: "string" },
        features: { type: "array", items: { type: "string" } },
      },
    },
  },
};

/** descriptor.md: mediaType, digest and size are required; the rest is optional. */
const descriptor = {
  $id: schemaId("descriptor"),
  type: "object",
  required: ["mediaType", "digest", "size"],
  properties: {
    mediaType: defsRef("mediaType"),
    digest: defsRef("digest"),
    size: defsRef("size"),
    urls: { type: "array", items: { type: "string" } },
    annotations: defsRef("stringMap"),
    data: { type: "string" },
    artifactType: defsRef("mediaType"),
    platform: defsRef("platform"),
  },
};

const descriptorRef = { $ref: schemaId("descriptor") };

/** manifest.md. The published reference schema requires at least one layer; the prose says SHOULD. */
const manifest = {
  $id: schemaId("manifest"),
  type: "object",
  required: ["schemaVersion", "config", "layers"],
  properties: {
    schemaVersion: { type: "integer", const: 2 },
    mediaType: defsRef("mediaType"),
    artifactType: defsRef("mediaType"),
    config: descriptorRef,
    layers: { type: "array", minItems: 1, items: descriptorRef },
    subject: descriptorRef,
    annotations: defsRef("stringMap"),
  },
};

/** image-index.md: `manifests` must be present but may be empty. */
const index = {
  $id: schemaId("index"),
  type: "object",
  required: ["schemaVersion", "manifests"],
  properties: {
    schemaVersion: { type: "integer", const: 2 },
    mediaType: defsRef("mediaType"),
    artifactType: defsRef("mediaType"),
    manifests: { type: "array", items: descriptorRef },
    subject: descriptorRef,
    annotations: defsRef("stringMap"),
  },
};

/** config.md: architecture, os and rootfs are required; everything in `config` is optional. */
const config = {
  $id: schemaId("config"),
  type: "object",
  required: ["architecture", "os", "rootfs"],
  properties: {
    created: { type: ["string", "null"] },
    author: { type: ["string", "null"] },
    architecture: { type: "string" },
    os: { type: "string" },
    "os.version": { type: ["string", "null"] },
    "os.features": defsRef("nullableStringArray"),
    variant: { type: ["string", "null"] },
    config: {
      type: ["object", "null"],
      properties: {
        User: { type: ["string", "null"] },
        ExposedPorts: defsRef("nullableObjectMap"),
        Env: defsRef("nullableStringArray"),
        Entrypoint: defsRef("nullableStringArray"),
        Cmd: defsRef("nullableStringArray"),
        Volumes: defsRef("nullableObjectMap"),
        WorkingDir: { type: ["string", "null"] },
        Labels: defsRef("nullableStringMap"),
        StopSignal: { type: ["string", "null"] },
        ArgsEscaped: { type: ["boolean", "null"] },
      },
    },
    rootfs: {
      type: "object",
      required: ["type", "diff_ids"],
      properties: {
        type: { type: "string", enum: ["layers"] },
        diff_ids: { type: "array", items: defsRef("digest") },
      },
    },
    history: {
      type: ["array", "null"],
      items: {
        type: "object",
        properties: {
          created: { type: ["string", "null"] },
          author: { type: ["string", "null"] },
          created_by: { type: ["string", "null"] },
          comment: { type: ["string", "null"] },
          empty_layer: { type: ["boolean", "null"] },
        },
      },
    },
  },
};

/** image-layout.md: the `oci-layout` file. */
const ociLayout = {
  $id: schemaId("oci-layout"),
  type: "object",
  required: ["imageLayoutVersion"],
  properties: {
    imageLayoutVersion: { type: "string", enum: ["1.0.0"] },
  },
};

/** Every schema, definitions first (the others refer to them). */
export const SCHEMAS: readonly object[] = [defs, descriptor, manifest, index, config, ociLayout];

/** Ajv options shared by the build-time generator and the runtime fallback. */
export const AJV_OPTIONS = {
  allErrors: true,
  strict: true,
  allowUnionTypes: true,
  code: { source: true, esm: true, lines: false },
} as const;

/** Exported names of the compiled validators, by schema. */
export const VALIDATOR_EXPORTS: Readonly<Record<SchemaName, string>> = {
  descriptor: "validateDescriptor",
  manifest: "validateManifest",
  index: "validateIndex",
  config: "validateConfig",
  "oci-layout": "validateOciLayout",
};
