/**
 * PAX extended header records ("<length> <key>=<value>\n"), parsed strictly,
 * and the records that override the next entry's header fields. Numbers are
 * checked the way the header's own are: a record that is not one is an error
 * naming the record, never a silent 0 or NaN.
 */
import { hasData, tarFormatError, type RawTarHeader } from "./tar-header.js";

export type PaxRecords = Record<string, string>;

/** Decodes a PAX header body; `at` names the header in messages. */
export function parsePaxRecords(body: Buffer, at: string): PaxRecords {
  const records: PaxRecords = {};
  let offset = 0;
  while (offset < body.length) {
    // GNU tar pads the body with NULs after the last record.
    if (body[offset] === 0) break;
    const space = body.indexOf(0x20, offset);
    const lengthText = space < 0 ? "" : body.toString("latin1", offset, space);
    const length = /^[1-9][0-9]{0,9}$/.test(lengthText) ? Number(lengthText) : NaN;
    if (!Number.isSafeInteger(length) || offset + length > body.length || body[offset + length - 1] !== 0x0a) {
      throw tarFormatError(`${at} has a malformed PAX record at byte ${offset} of its body`);
    }
    const record = body.toString("utf8", space + 1, offset + length - 1);
    const equals = record.indexOf("=");
    if (equals <= 0) throw tarFormatError(`${at} has a PAX record with no key at byte ${offset} of its body`);
    records[record.slice(0, equals)] = record.slice(equals + 1);
    offset += length;
  }
  return records;
}

/** Applies the records that replace header fields (path, linkpath, size, uid, gid, mtime, atime). */
export function applyPaxRecords(header: RawTarHeader & { atime?: number }, records: PaxRecords, at: string): void {
  if (records.path !== undefined) header.name = records.path;
  if (records.linkpath !== undefined) header.linkname = records.linkpath;
  if (records.size !== undefined && hasData(header.type)) header.size = paxInteger(records.size, "size", at);
  if (records.uid !== undefined) header.uid = paxInteger(records.uid, "uid", at);
  if (records.gid !== undefined) header.gid = paxInteger(records.gid, "gid", at);
  if (records.mtime !== undefined) header.mtime = paxSeconds(records.mtime, "mtime", at);
  if (records.atime !== undefined) header.atime = paxSeconds(records.atime, "atime", at);
}

function paxInteger(value: string, key: string, at: string): number {
  const number = /^[0-9]{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number))
    throw tarFormatError(`${at}: PAX record ${key}=${value.slice(0, 40)} is not a whole number`);
  return number;
}

/** A PAX time: seconds, with an optional fraction. */
export function paxSeconds(value: string, key: string, at: string): number {
  const number = /^-?[0-9]{1,16}(\.[0-9]{1,18})?$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(number)) throw tarFormatError(`${at}: PAX record ${key}=${value.slice(0, 40)} is not a time`);
  return number;
}
