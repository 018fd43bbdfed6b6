/**
 * Image config → runtime config (image-spec conversion.md), pure: the image's
 * process (args, env, cwd, user) and annotations, over what `runc spec` (or
 * `runc spec --rootless`) writes so that `runc run` can start the bundle.
 */
import type { ImageConfig } from "../image/types.js";
import { resolveUser, rootHome, type ProcessUser, type UserDatabase } from "./resolve-user.js";
import {
  DEFAULT_ARGS,
  DEFAULT_CAPABILITIES,
  DEFAULT_PATH,
  DEFAULT_RLIMITS,
  MASKED_PATHS,
  READONLY_PATHS,
  defaultMounts,
  defaultNamespaces,
  type Mount,
} from "./runtime-defaults.js";

export const RUNTIME_SPEC_VERSION = "1.0.2";

export interface RuntimeConfigOptions {
  /** A user namespace mapping `hostUid`/`hostGid` to root; no network namespace. */
  rootless?: boolean;
  hostUid?: number;
  hostGid?: number;
  /** process.terminal (default false). */
  tty?: boolean;
  /** The rootfs's /etc/passwd and /etc/group, for user names. */
  userDatabase?: UserDatabase;
}

export interface RuntimeConfig {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: ProcessUser;
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<"bounding" | "effective" | "permitted" | "ambient", string[]>;
    rlimits: { type: string; hard: number; soft: number }[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  mounts: Mount[];
  annotations?: Record<string, string>;
  linux: {
    uidMappings?: { containerID: number; hostID: number; size: number }[];
    gidMappings?: { containerID: number; hostID: number; size: number }[];
    resources?: { devices: { allow: boolean; access: string }[] };
    namespaces: { type: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

export function toRuntimeConfig(image: ImageConfig, options: RuntimeConfigOptions = {}): RuntimeConfig {
  const container = image.config ?? {};
  const rootless = options.rootless ?? false;
  const args = [...(container.Entrypoint ?? []), ...(container.Cmd ?? [])];
  // An image that names no process gets runc's default (the caller warns: see hasProcessArgs).
  if (args.length === 0) args.push(...DEFAULT_ARGS);
  const env = [...(container.Env ?? [])];
  if (!env.some((entry) => entry.startsWith("PATH="))) env.unshift(DEFAULT_PATH);
  if (options.tty && !env.some((entry) => entry.startsWith("TERM="))) env.push("TERM=xterm");
  const database = options.userDatabase ?? {};
  const user = resolveUser(container.User, database);
  const { username: _name, home: userHome, ...processUser } = user;
  // As runc and umoci do: HOME from the user's passwd entry unless the image sets it (no User: root's entry).
  const home = userHome ?? ((container.User ?? "").trim() === "" ? rootHome(database) : undefined);
  if (home && !env.some((entry) => entry.startsWith("HOME="))) env.push(`HOME=${home}`);

  const capabilities = {
    bounding: [...DEFAULT_CAPABILITIES],
    effective: [...DEFAULT_CAPABILITIES],
    permitted: [...DEFAULT_CAPABILITIES],
    ambient: [...DEFAULT_CAPABILITIES],
  };
  const mounts = defaultMounts(rootless);
  // Volumes: a fresh tmpfs at each path, so data written there stays out of the rootfs (as conversion.md asks).
  for (const destination of Object.keys(container.Volumes ?? {}).sort()) {
    if (!destination.startsWith("/")) continue;
    mounts.push({ destination, type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=755"] });
  }

  const config: RuntimeConfig = {
    ociVersion: RUNTIME_SPEC_VERSION,
    process: {
      terminal: options.tty ?? false,
      user: processUser,
      args,
      env,
      cwd: container.WorkingDir || "/",
      capabilities,
      rlimits: DEFAULT_RLIMITS.map((limit) => ({ ...limit })),
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: false },
    mounts,
    linux: {
      namespaces: defaultNamespaces(rootless),
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
  if (rootless) {
    config.linux.uidMappings = [{ containerID: 0, hostID: options.hostUid ?? 0, size: 1 }];
    config.linux.gidMappings = [{ containerID: 0, hostID: options.hostGid ?? 0, size: 1 }];
  } else {
    config.linux.resources = { devices: [{ allow: false, access: "rwm" }] };
  }
  const annotations = annotationsOf(image);
  if (Object.keys(annotations).length > 0) config.annotations = annotations;
  return config;
}

/** Whether the image names its process (Entrypoint or Cmd); without, config.json runs DEFAULT_ARGS. */
export function hasProcessArgs(image: ImageConfig): boolean {
  return (image.config?.Entrypoint ?? []).length + (image.config?.Cmd ?? []).length > 0;
}

/** conversion.md's annotations; the config's Labels are copied over them and win. */
export function annotationsOf(image: ImageConfig): Record<string, string> {
  const container = image.config ?? {};
  const annotations: Record<string, string> = {};
  const set = (key: string, value: string | undefined) => {
    if (value !== undefined && value !== "") annotations[`org.opencontainers.image.${key}`] = value;
  };
  set("os", image.os);
  set("architecture", image.architecture);
  set("variant", image.variant);
  set("os.version", image["os.version"]);
  set("os.features", image["os.features"]?.join(","));
  set("author", image.author);
  set("created", image.created);
  set("stopSignal", container.StopSignal);
  set(
    "exposedPorts",
    Object.keys(container.ExposedPorts ?? {})
      .sort()
      .join(","),
  );
  for (const [key, value] of Object.entries(container.Labels ?? {})) annotations[key] = value;
  return annotations;
}
