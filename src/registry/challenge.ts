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
  const reader = new ChallengeReader(header);
  const challenges: Challenge[] = [];
  for (;;) {
    const challenge = reader.next();
    if (challenge === null) break;
    if (challenge) challenges.push(challenge);
  }
  return challenges;
}

/** A cursor over one header's text. */
class ChallengeReader {
  private i = 0;

  constructor(private readonly text: string) {}

  /** The next challenge; undefined for junk skipped, null at the end. */
  next(): Challenge | undefined | null {
    this.skipSeparators();
    if (this.i >= this.text.length) return null;
    const scheme = this.readToken();
    if (!scheme) {
      this.i++; // junk: skip a character and keep going
      return undefined;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    this.skipSpace();
    const token68 = this.readToken68();
    if (token68 !== undefined) challenge.token68 = token68;
    else this.readParams(challenge.params);
    return challenge;
  }

  /** token68: a run of token68 characters plus '=' padding, not followed by '='-value syntax. */
  private readToken68(): string | undefined {
    const { text } = this;
    const start = this.i;
    while (this.i < text.length && TOKEN68_CHAR.test(text[this.i]!)) this.i++;
    const afterWord = this.i;
    while (this.i < text.length && text[this.i] === "=") this.i++;
    const padded = this.i;
    this.skipSpace();
    const atEnd = this.i >= text.length || text[this.i] === ",";
    if (afterWord > start && atEnd && (padded > afterWord || !isParamAhead(text, start)))
      return text.slice(start, padded);
    this.i = start;
    return undefined;
  }

  /** Parameters until the next challenge's scheme. */
  private readParams(params: Record<string, string>): void {
    const { text } = this;
    for (;;) {
      this.skipSpace();
      const nameStart = this.i;
      const name = this.readToken();
      if (!name) return;
      this.skipSpace();
      if (text[this.i] !== "=") {
        this.i = nameStart; // a new scheme begins here
        return;
      }
      this.i++;
      this.skipSpace();
      params[name.toLowerCase()] = text[this.i] === '"' ? this.readQuoted() : this.readToken();
      this.skipSpace();
      if (text[this.i] !== ",") return;
      // After a comma: another parameter of this challenge, or a new challenge.
      const comma = this.i;
      this.i++;
      this.skipSeparators();
      const peekStart = this.i;
      this.readToken();
      this.skipSpace();
      const isParam = text[this.i] === "=";
      this.i = isParam ? peekStart : comma;
      if (!isParam) return;
    }
  }

  private skipSpace(): void {
    while (this.i < this.text.length && (this.text[this.i] === " " || this.text[this.i] === "\t")) this.i++;
  }

  /** Empty list elements and separators. */
  private skipSeparators(): void {
    while (this.i < this.text.length && /[, \t]/.test(this.text[this.i]!)) this.i++;
  }

  private readToken(): string {
    const start = this.i;
    while (this.i < this.text.length && TOKEN_CHAR.test(this.text[this.i]!)) this.i++;
    return this.text.slice(start, this.i);
  }

  private readQuoted(): string {
    this.i++; // opening quote
    let value = "";
    while (this.i < this.text.length && this.text[this.i] !== '"') {
      if (this.text[this.i] === "\\" && this.i + 1 < this.text.length) this.i++;
      value += this.text[this.i];
      this.i++;
    }
    this.i++; // closing quote (or end)
    return value;
  }
}

/** Whether `name=` (a parameter) starts at `start`. */
function isParamAhead(text: string, start: number): boolean {
  let i = start;
  while (i < text.length && TOKEN_CHAR.test(text[i]!)) i++;
  while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
  return text[i] === "=";
}
