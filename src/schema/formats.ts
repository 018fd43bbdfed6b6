/** String formats the image-spec names: RFC 3339 date-times, RFC 3986 URIs, padded base64, RFC 6838 media types. */

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/** RFC 3339 section 5.6 `date-time`, with the calendar and clock ranges checked. */
export function isRfc3339DateTime(text: string): boolean {
  const match = DATE_TIME.exec(text);
  if (!match) return false;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  // second 60 is a leap second.
  if (hour > 23 || minute > 59 || second > 60) return false;
  if (match[7] !== undefined && (Number(match[8]) > 23 || Number(match[9]) > 59)) return false;
  return true;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

// RFC 3986: scheme ":" then only unreserved, reserved or percent-encoded characters.
const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const URI_CHARACTERS = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
const AUTHORITY = /^\/\/([^/?#]*)/;
const HOST_PORT = /^(?:[^@]*@)?(\[[0-9A-Fa-f:.vV]+\]|[^:[\]]*)(?::(\d*))?$/;

/** An absolute URI (RFC 3986 section 3: it has a scheme), with a sane authority when it has one. */
export function isRfc3986Uri(text: string): boolean {
  const scheme = URI_SCHEME.exec(text);
  if (!scheme || !URI_CHARACTERS.test(text)) return false;
  const rest = text.slice(scheme[0].length);
  const authority = AUTHORITY.exec(rest);
  if (authority && !HOST_PORT.test(authority[1]!)) return false;
  // "#" may appear once, starting the fragment.
  return text.indexOf("#") === text.lastIndexOf("#");
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes RFC 4648 base64 with padding; undefined when `text` is not exactly that. */
export function decodeBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  return Buffer.from(text, "base64");
}

/** RFC 6838 section 4.2 names, as the image-spec's schema writes them. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export function isMediaType(text: string): boolean {
  return MEDIA_TYPE.test(text);
}
