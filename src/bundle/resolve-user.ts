/**
 * The image config's `User` as numeric ids (conversion.md): `user`, `uid`,
 * `user:group`, `uid:gid` and the mixes. Numbers are used as they are; names
 * are looked up in the rootfs's /etc/passwd and /etc/group (given here as
 * text: this is pure), and, when no group is named, the user's
 * supplementary groups become additionalGids. An unknown name is an error.
 */
import { InvalidContentError } from "../errors.js";

export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
  username?: string;
  /** The passwd entry's home directory, when the user has one. */
  home?: string;
}

export interface UserDatabase {
  /** Contents of the rootfs's /etc/passwd, when it has one. */
  passwd?: string;
  /** Contents of the rootfs's /etc/group, when it has one. */
  group?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 2 ** 32 - 2;

function parseId(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const id = Number(text);
  return id <= MAX_ID ? id : undefined;
}

/** The colon-separated fields of each line of /etc/passwd or /etc/group (blank lines and comments skipped). */
function recordsOf(text: string): string[][] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => line.split(":"));
}

export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const fields of recordsOf(text)) {
    const uid = parseId(fields[2] ?? "");
    const gid = parseId(fields[3] ?? "");
    if (fields[0] && uid !== undefined && gid !== undefined)
      entries.push({ name: fields[0], uid, gid, home: fields[5] ?? "" });
  }
  return entries;
}

export function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const fields of recordsOf(text)) {
    const gid = parseId(fields[2] ?? "");
    if (fields[0] && gid !== undefined)
      entries.push({
        name: fields[0],
        gid,
        members: (fields[3] ?? "")
          .split(",")
          .map((m) => m.trim())
          .filter(Boolean),
      });
  }
  return entries;
}

/** The home directory of uid 0 in /etc/passwd: HOME for an image with no User (as umoci). */
export function rootHome(database: UserDatabase): string | undefined {
  return parsePasswd(database.passwd ?? "").find((entry) => entry.uid === 0)?.home || undefined;
}

/** Resolves `User` (empty: root). Throws InvalidContentError for unknown names. */
export function resolveUser(spec: string | undefined, database: UserDatabase): ProcessUser {
  const text = (spec ?? "").trim();
  if (text === "") return { uid: 0, gid: 0 };
  const colon = text.indexOf(":");
  const userPart = colon === -1 ? text : text.slice(0, colon);
  const groupPart = colon === -1 ? undefined : text.slice(colon + 1);
  const passwd = parsePasswd(database.passwd ?? "");
  const groups = parseGroup(database.group ?? "");

  let uid: number;
  let gid = 0;
  let username: string | undefined;
  let home: string | undefined;
  const numericUid = parseId(userPart);
  if (numericUid !== undefined) {
    uid = numericUid;
    const entry = passwd.find((candidate) => candidate.uid === uid);
    if (entry) {
      gid = entry.gid;
      username = entry.name;
      home = entry.home;
    }
  } else {
    const entry = passwd.find((candidate) => candidate.name === userPart);
    if (!entry) {
      throw new InvalidContentError(
        "USER_UNKNOWN",
        `the image's user "${userPart}" is not in the rootfs's /etc/passwd` +
          `${database.passwd === undefined ? " (the rootfs has none)" : ""}; ` +
          "the image config's User must name a user of the image or be numeric",
        { pointer: "/config/User" },
      );
    }
    uid = entry.uid;
    gid = entry.gid;
    username = entry.name;
    home = entry.home;
  }

  if (groupPart !== undefined && groupPart !== "") gid = groupIdOf(groupPart, groups, database);

  const user: ProcessUser = { uid, gid };
  if (username !== undefined) user.username = username;
  if (home) user.home = home;
  // As runc's user lookup: supplementary groups only when no group was named.
  if (username !== undefined && (groupPart === undefined || groupPart === "")) {
    const additional = supplementaryGids(groups, username, gid);
    if (additional.length > 0) user.additionalGids = additional;
  }
  return user;
}

/** A group of `User` (`user:group`): numeric as is, a name from /etc/group. */
function groupIdOf(groupPart: string, groups: GroupEntry[], database: UserDatabase): number {
  const numericGid = parseId(groupPart);
  if (numericGid !== undefined) return numericGid;
  const entry = groups.find((candidate) => candidate.name === groupPart);
  if (!entry) {
    throw new InvalidContentError(
      "GROUP_UNKNOWN",
      `the image's group "${groupPart}" is not in the rootfs's /etc/group` +
        `${database.group === undefined ? " (the rootfs has none)" : ""}`,
      { pointer: "/config/User" },
    );
  }
  return entry.gid;
}

/** The groups listing `username` as a member, but its primary group. */
function supplementaryGids(groups: GroupEntry[], username: string, primary: number): number[] {
  const gids = groups.filter((group) => group.members.includes(username)).map((group) => group.gid);
  return [...new Set(gids)].filter((id) => id !== primary);
}
