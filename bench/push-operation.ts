/**
 * Push: the bench image from its layout into an empty repository of the bench
 * registry, with oci-image push and with skopeo copy. The repository is removed
 * from the registry's storage before each run, untimed, so every run uploads
 * every blob (the registry's global blob store keeps them, but a repository
 * that does not link a blob gets it uploaded in full).
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Operation } from "./measure.js";
import type { OperationInputs } from "./operations.js";

export function pushOperations({ image, registry, ociImage }: OperationInputs): Operation[] {
  if (!registry) return [];
  const repositories = join(registry.dataDir, "docker", "registry", "v2", "repositories", "bench");
  const fresh = (name: string) => () => rm(join(repositories, name), { recursive: true, force: true });
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
        prepare: fresh("push-skopeo"),
      },
    ],
  };
  return [operation];
}
