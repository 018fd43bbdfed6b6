/**
 * The package as users get it: `npm pack`, then `npm install -g` of the tarball
 * into a temporary prefix (dependencies from the npm registry, or npm's cache),
 * then the installed command and the library entry are used from there.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, rm, stat, symlink, writeFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { REPO_ROOT, runProgram, type CliResult } from "../helpers/cli.js";
import { pushImage, startRegistry } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";
import { requireTool } from "../helpers/tools.js";
import { assertValidRuntimeConfig } from "../helpers/runtime-spec.js";
import { typecheckStrict } from "../helpers/typecheck.js";

interface PackedFile {
  path: string;
  mode: number;
}

interface Installed {
  prefix: string;
  bin: string;
  packageDir: string;
  files: PackedFile[];
}

const NETWORK_FAILURE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ENETUNREACH|ETIMEDOUT|network|ENOCACHE|offline/i;
let work: string;
let installed: Installed | undefined;
/** Why the install could not reach the npm registry nor find the dependencies in npm's cache. */
let unreachable: string | undefined;

function npm(args: string[], cwd: string): Promise<CliResult> {
  return runProgram("npm", args, {
    cwd,
    timeoutMs: 600_000,
    env: { npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" },
  });
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), "oci-image-package-"));
  // dist/ is built by `npm test` before the tests run; pack it as it is (no second build mid-suite).
  const packed = await npm(["pack", "--ignore-scripts", "--json", "--pack-destination", work], REPO_ROOT);
  assert.equal(packed.status, 0, `npm pack failed: ${packed.stderr}`);
  const [report] = JSON.parse(packed.stdout) as { filename: string; files: PackedFile[] }[];
  const tarball = join(work, report!.filename);
  const prefix = join(work, "prefix");
  let install = await npm(["install", "-g", "--prefix", prefix, "--prefer-offline", tarball], work);
  if (install.status !== 0 && NETWORK_FAILURE.test(install.stderr)) {
    install = await npm(["install", "-g", "--prefix", prefix, "--offline", tarball], work);
    if (install.status !== 0) {
      unreachable = `the npm registry is unreachable and npm's cache lacks the dependencies: ${install.stderr.split("\n").find((l) => /ERR/.test(l)) ?? install.stderr.slice(0, 200)}`;
      return;
    }
  }
  assert.equal(install.status, 0, `npm install -g failed: ${install.stderr}`);
  installed = {
    prefix,
    bin: join(prefix, "bin", "oci-image"),
    packageDir: join(prefix, "lib", "node_modules", "oci-image"),
    files: report!.files,
  };
});

after(() => rm(work, { recursive: true, force: true }));

/** The installed package, or a loud skip when npm could not install it at all. */
function need(t: TestContext): Installed | undefined {
  if (installed) return installed;
  const message = unreachable ?? "the package was not installed";
  process.stderr.write(`\n*** SKIPPING: ${message} ***\n`);
  t.skip(message);
  return undefined;
}

test("the tarball holds the command, the built library and its types, and nothing else", (t) => {
  const pkg = need(t);
  if (!pkg) return;
  const paths = pkg.files.map((file) => file.path);
  for (const required of [
    "bin/oci-image",
    "bin/package.json",
    "package.json",
    "README.md",
    "dist/cli/cli.js",
    "dist/cli/layer-decoder-worker.js",
    "dist/cli/remove-tree-main.js",
    "dist/src/cli.js",
    "dist/src/index.js",
    "dist/src/index.d.ts",
  ]) {
    assert.ok(paths.includes(required), `${required} is in the tarball`);
  }
  const unexpected = paths.filter(
    (path) =>
      !/^(bin\/(oci-image|package\.json)|package\.json|README\.md|LICENSE|dist\/src\/.+\.(js|d\.ts|json))$/.test(
        path,
      ) && !/^dist\/cli\/[^/]+\.(js|js\.map|json)$/.test(path),
  );
  assert.deepEqual(unexpected, [], "only bin/, dist/cli/, dist/src/, README, LICENSE and package.json are shipped");
  assert.ok(
    !paths.some((path) => path.startsWith("dist/test/") || path.startsWith("dist/bench/") || path.startsWith("src/")),
  );
  const bin = pkg.files.find((file) => file.path === "bin/oci-image")!;
  assert.equal(bin.mode & 0o111, 0o111, "bin/oci-image is executable");
});

test("the installed command prints the package's version", async (t) => {
  const pkg = need(t);
  if (!pkg) return;
  const { version } = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
  const result = await runProgram(pkg.bin, ["--version"]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), version);
  const help = await runProgram(pkg.bin, ["--help"]);
  assert.equal(help.status, 0);
  for (const command of ["fetch", "create", "validate", "unpack", "completion"])
    assert.match(help.stdout, new RegExp(`^\\s+${command}\\b`, "m"));
  const completion = await runProgram(pkg.bin, ["completion", "bash"]);
  assert.equal(completion.status, 0, completion.stderr);
  assert.match(completion.stdout, /^complete -F _oci_image oci-image$/m);
});

test("create, validate and unpack work from the installed package", async (t) => {
  const pkg = need(t);
  if (!pkg) return;
  const dir = await tempDir(t);
  const rootfs = join(dir, "rootfs");
  await mkdir(join(rootfs, "etc"), { recursive: true });
  await mkdir(join(rootfs, "usr", "bin"), { recursive: true });
  await writeFile(join(rootfs, "etc", "greeting"), "hello from the installed package\n");
  await writeFile(join(rootfs, "usr", "bin", "hello"), "#!/bin/sh\ncat /etc/greeting\n", { mode: 0o755 });
  await symlink("usr/bin", join(rootfs, "bin"));
  const run = (args: string[]) => runProgram(pkg.bin, args, { cwd: dir });

  const created = await run(["create", "--json", "--cmd", '["/bin/hello"]', "rootfs", "images:demo"]);
  assert.equal(created.status, 0, created.stderr);
  const createdJson = JSON.parse(created.stdout) as { ok: boolean; digest: string };
  assert.equal(createdJson.ok, true);
  assert.match(createdJson.digest, /^sha256:[0-9a-f]{64}$/);

  const validated = await run(["validate", "--json", "images:demo"]);
  assert.equal(validated.status, 0, validated.stderr + validated.stdout);
  const report = JSON.parse(validated.stdout) as { ok: boolean; valid: boolean; errors: unknown[] };
  assert.equal(report.valid, true);
  assert.deepEqual(report.errors, []);

  const unpacked = await run(["unpack", "images:demo", "bundle"]);
  assert.equal(unpacked.status, 0, unpacked.stderr);
  await assertValidRuntimeConfig(t, join(dir, "bundle"));
  assert.equal(
    await readFile(join(dir, "bundle", "rootfs", "etc", "greeting"), "utf8"),
    "hello from the installed package\n",
  );
  assert.equal((await stat(join(dir, "bundle", "rootfs", "usr", "bin", "hello"))).mode & 0o777, 0o755);
  const config = JSON.parse(await readFile(join(dir, "bundle", "config.json"), "utf8")) as {
    ociVersion: string;
    process: { args: string[] };
  };
  assert.match(config.ociVersion, /^1\./);
  assert.deepEqual(config.process.args, ["/bin/hello"]);

  // The same layout, broken: validate must say so from the installed package too.
  const index = JSON.parse(await readFile(join(dir, "images", "index.json"), "utf8")) as {
    manifests: { digest: string }[];
  };
  await rm(join(dir, "images", "blobs", "sha256", index.manifests[0]!.digest.slice("sha256:".length)));
  const broken = await run(["validate", "images:demo"]);
  assert.equal(broken.status, 1, broken.stdout + broken.stderr);
});

test("fetch works from the installed package (its HTTP client is installed)", async (t) => {
  const pkg = need(t);
  if (!pkg) return;
  if (!requireTool(t, "skopeo") || !requireTool(t, "docker-registry")) return;
  const dir = await tempDir(t);
  await mkdir(join(dir, "rootfs", "etc"), { recursive: true });
  await writeFile(join(dir, "rootfs", "etc", "motd"), "fetched\n");
  const run = (args: string[]) => runProgram(pkg.bin, args, { cwd: dir });
  const created = await run(["create", "rootfs", "images:demo"]);
  assert.equal(created.status, 0, created.stderr);
  const registry = await startRegistry();
  t.after(() => registry.stop());
  const pushed = await pushImage(`oci:${join(dir, "images")}:demo`, registry, "package/demo:1");
  const fetched = await run(["fetch", "--json", `${registry.host}/package/demo:1`, "fetched:demo"]);
  assert.equal(fetched.status, 0, fetched.stderr);
  const result = JSON.parse(fetched.stdout) as { ok: boolean; digest: string };
  assert.equal(result.ok, true);
  assert.equal(result.digest, pushed);
  const validated = await run(["validate", "fetched:demo"]);
  assert.equal(validated.status, 0, validated.stdout + validated.stderr);
});

/** Names the library entry must export. */
const EXPECTED_EXPORTS = [
  "OciImageError",
  "UsageError",
  "DigestMismatchError",
  "InvalidContentError",
  "NotFoundError",
  "UnsafeLayerError",
  "RegistryError",
  "AbortedError",
  "isOciImageError",
  "MediaType",
  "parseDigest",
  "digestOf",
  "parsePlatform",
  "formatPlatform",
  "ImageLayout",
  "BlobStore",
  "parseLayoutArgument",
  "resolveImage",
  "walkReachable",
  "readLayer",
  "createCompressor",
  "createDecompressor",
  "parseReference",
  "formatReference",
  "RegistryClient",
  "pullImage",
  "validateDocument",
  "validateLayout",
  "validatePaths",
  "createImage",
  "applyLayer",
  "toRuntimeConfig",
  "unpackImage",
];

test("the library entry imports from the installed package", async (t) => {
  const pkg = need(t);
  if (!pkg) return;
  const layoutDir = await tempDir(t);
  // A module under the prefix's lib/ resolves "oci-image" from lib/node_modules, as a user's would.
  const script = join(pkg.prefix, "lib", "use-library.mjs");
  await writeFile(
    script,
    `
import * as library from "oci-image";
const { ImageLayout, parseDigest, MediaType, digestOf, OciImageError } = library;
const layout = await ImageLayout.openOrCreate(process.argv[2]);
const blob = await layout.putBlobBytes(new TextEncoder().encode("hello"));
await layout.addRef({ mediaType: MediaType.ociManifest, digest: blob.digest, size: blob.size }, "demo");
const refs = (await layout.readIndex()).manifests.map((m) => m.annotations?.["org.opencontainers.image.ref.name"]);
let error;
try { parseDigest("sha256:nothex"); } catch (e) { error = { isLibraryError: e instanceof OciImageError, code: e.code }; }
let internal;
try { await import("oci-image/dist/src/cli.js"); internal = "importable"; } catch (e) { internal = e.code; }
const problems = await library.validateDocument("oci-layout", { imageLayoutVersion: "2.0.0" });
const args = library.toRuntimeConfig({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config: { Entrypoint: ["/bin/app"], Cmd: ["--serve"] } }).process.args;
console.log(JSON.stringify({ exports: Object.keys(library), digest: blob.digest, expected: digestOf("hello"), refs, error, internal, rules: problems.map((p) => p.severity), args }));
`,
  );
  const result = await runProgram(process.execPath, [script, layoutDir]);
  assert.equal(result.status, 0, result.stderr);
  const seen = JSON.parse(result.stdout) as {
    exports: string[];
    digest: string;
    expected: string;
    refs: string[];
    error: { isLibraryError: boolean; code: string };
    internal: string;
    rules: string[];
    args: string[];
  };
  for (const name of EXPECTED_EXPORTS) assert.ok(seen.exports.includes(name), `"${name}" is exported`);
  assert.equal(seen.digest, seen.expected);
  assert.equal(seen.digest, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  assert.deepEqual(seen.refs, ["demo"]);
  assert.ok(seen.rules.includes("error"), "a wrong imageLayoutVersion is an error");
  assert.deepEqual(seen.args, ["/bin/app", "--serve"]);
  assert.equal(seen.error.isLibraryError, true);
  assert.equal(typeof seen.error.code, "string");
  // Only the entry point is public: deep imports are refused by the exports map.
  assert.equal(seen.internal, "ERR_PACKAGE_PATH_NOT_EXPORTED");
});

test("the installed package's types check a consumer and catch its mistakes", async (t) => {
  const pkg = need(t);
  if (!pkg) return;
  const manifest = JSON.parse(await readFile(join(pkg.packageDir, "package.json"), "utf8")) as {
    types: string;
    exports: { ".": { types: string } };
  };
  assert.equal(manifest.exports["."].types, "./dist/src/index.d.ts");
  await stat(join(pkg.packageDir, manifest.types));
  const consumerDir = join(pkg.prefix, "lib");
  const good = join(consumerDir, "good.ts");
  const bad = join(consumerDir, "bad.ts");
  await writeFile(
    good,
    `import { ImageLayout, parseDigest, MediaType, type Descriptor, type ImageManifest } from "oci-image";
const layout: ImageLayout = await ImageLayout.openOrCreate("unused");
const descriptor: Descriptor = { mediaType: MediaType.ociManifest, digest: "sha256:" + parseDigest("sha256:" + "0".repeat(64)).encoded, size: 1 };
const manifest: Pick<ImageManifest, "schemaVersion"> = { schemaVersion: 2 };
export { layout, descriptor, manifest };
`,
  );
  await writeFile(
    bad,
    `import { ImageLayout } from "oci-image";\nconst layout: number = await ImageLayout.openOrCreate("unused");\nexport { layout };\n`,
  );
  await writeFile(join(consumerDir, "package.json"), JSON.stringify({ type: "module" }));
  const checked = await typecheckStrict(good, consumerDir);
  assert.equal(checked.status, 0, checked.stdout + checked.stderr);
  const rejected = await typecheckStrict(bad, consumerDir);
  assert.notEqual(rejected.status, 0);
  assert.match(rejected.stdout, /bad\.ts\(2,7\): error TS2322/);
});
