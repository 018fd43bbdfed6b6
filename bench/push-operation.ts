/**
 * Push: the bench image from its layout into an empty repository of the bench
 * registry, with oci-image push and with skopeo copy. The repository is removed
 * from the registry's storage before each run, untimed, so every run uploads
 * every blob (the registry's global blob store keeps them, but a repository
 * that does not link a blob gets it uploaded in full). skopeo's blob info cache
 * is removed too: it remembers which repositories of a registry hold a blob and
 * mounts from them instead of uploading, which would not be the same job.
 */
import { rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { MEMORY_TARGET, type Operation } from "./measure.js";
import type { OperationInputs } from "./operations.js";

export function pushOperations({ image, registry, ociImage }: OperationInputs): Operation[] {
  if (!registry) return [];
  const repositories = join(registry.dataDir, "docker", "registry", "v2", "repositories", "bench");
  const fresh = (name: string) => () => rm(join(repositories, name), { recursive: true, force: true });
  const forgetMounts = () => Promise.all(SKOPEO_BLOB_CACHES.map((path) => rm(path, { force: true })));
  const operation: Operation = {
    id: "push",
    group: "push",
    title: `push the ${image.size} image into an empty repository`,
    candidates: [
      {
        name: "oci-image push",
        role: "ours",
        argv: [...ociImage, "push", `${image.layout}:${image.tag}`, `${registry.host}/bench/push-ours:1`],
        prepare: fresh("push-ours"),
      },
      {
        name: "skopeo copy",
        role: "peer",
        argv: [
          "skopeo",
          "copy",
          "--quiet",
          "--dest-tls-verify=false",
          `oci:${image.layout}:${image.tag}`,
          `docker://${registry.host}/bench/push-skopeo:1`,
        ],
        prepare: async () => {
          await fresh("push-skopeo")();
          await forgetMounts();
        },
      },
    ],
    targets: [{ against: "skopeo copy", atMost: 1.0 }, MEMORY_TARGET],
  };
  return [operation];
}

/** Where containers/image keeps its blob info cache: root's, and a user's. */
const USER_CACHE = join(process.env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "containers", "cache");
const SKOPEO_BLOB_CACHES = ["/var/lib/containers/cache", USER_CACHE].flatMap((directory) => [
  join(directory, "blob-info-cache-v1.boltdb"),
  join(directory, "blob-info-cache-v1.sqlite"),
]);
