/**
 * `WWW-Authenticate` challenges (RFC 9110 §11.6.1): one header may hold several
 * challenges separated by commas, each a scheme followed by a token68 or by
 * `name=value` parameters whose quoted values may themselves hold commas
 * (`scope="repository:a:pull,push"`) and backslash escapes.
 */

export interface Challenge {
  /** Lower-case scheme: "bearer", "basic"... */
  scheme: string;
  /** Parameters by lower-case name. */
  params: Record<string, string>;
  token68?: string;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  if (Array.isArray(header)) return header.flatMap((one) => parseChallenges(one));
  const text = header;
  const challenges: Challenge[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < text.length && TOKEN_CHAR.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  const readQuoted = (): string => {
    i++; // opening quote
    let value = "";
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\" && i + 1 < text.length) i++;
      value += text[i];
      i++;
    }
    i++; // closing quote (or end)
    return value;
  };

  while (i < text.length) {
    // Skip empty list elements and separators.
    while (i < text.length && (text[i] === "," || text[i] === " " || text[i] === "\t")) i++;
    if (i >= text.length) break;
    const scheme = readToken();
    if (!scheme) {
      i++; // junk: skip a character and keep going
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    skipSpace();
    // token68: a run of token68 characters plus '=' padding, not followed by '='-value syntax.
    const token68Start = i;
    while (i < text.length && TOKEN68_CHAR.test(text[i]!)) i++;
    const afterWord = i;
    while (i < text.length && text[i] === "=") i++;
    const padded = i;
    skipSpace();
    if (
      afterWord > token68Start &&
      (i >= text.length || text[i] === ",") &&
      (padded > afterWord || !isParamAhead(text, token68Start))
    ) {
      challenge.token68 = text.slice(token68Start, padded);
      continue;
    }
    i = token68Start;
    // Parameters until the next challenge's scheme.
    for (;;) {
      skipSpace();
      const nameStart = i;
      const name = readToken();
      if (!name) break;
      skipSpace();
      if (text[i] !== "=") {
        i = nameStart; // a new scheme begins here
        break;
      }
      i++;
      skipSpace();
      const value = text[i] === '"' ? readQuoted() : readToken();
      challenge.params[name.toLowerCase()] = value;
      skipSpace();
      if (text[i] !== ",") break;
      // After a comma: another parameter of this challenge, or a new challenge.
      const comma = i;
      i++;
      while (i < text.length && (text[i] === "," || text[i] === " " || text[i] === "\t")) i++;
      const peekStart = i;
      readToken();
      skipSpace();
      const isParam = text[i] === "=";
      i = isParam ? peekStart : comma;
      if (!isParam) break;
    }
  }
  return challenges;
}

/** Whether `name=` (a parameter) starts at `start`. */
function isParamAhead(text: string, start: number): boolean {
  let i = start;
  while (i < text.length && TOKEN_CHAR.test(text[i]!)) i++;
  while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
  return text[i] === "=";
}
