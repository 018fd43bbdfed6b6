/**
 * A small token server for the distribution registry's token auth: it issues
 * RS256 JWTs whose header carries the signing certificate (`x5c`), which the
 * registry checks against its `rootcertbundle`. The key and the self-signed
 * certificate are made with `openssl` into a directory the caller owns.
 */
import { createPrivateKey, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { selfSignedCertificate } from "./certificate.js";

export interface TokenServerOptions {
  /** Directory for key.pem and cert.pem. */
  dir: string;
  issuer: string;
  service: string;
  /** user → password; a valid user gets every action asked for. */
  users: Record<string, string>;
  /** Whether a request without credentials gets "pull" (default true). */
  anonymousPull?: boolean;
  /** Seconds a token lives (default 300). */
  expiresIn?: number;
  /** OAuth2 refresh tokens (identity tokens) → the user each stands for, for `grant_type=refresh_token` POSTs. */
  refreshTokens?: Record<string, string>;
}

export interface TokenRequestRecord {
  method: string;
  /** For a POST: its grant_type. */
  grant?: string;
  scope: string[];
  service: string | null;
  user?: string;
  authorized: boolean;
}

export interface RunningTokenServer {
  url: string;
  /** The realm the registry sends clients to. */
  realm: string;
  certPath: string;
  /** Every request answered, in order (tests count token fetches). */
  requests: TokenRequestRecord[];
  stop(): Promise<void>;
}

export function makeSigningCertificate(dir: string): { keyPath: string; certPath: string } {
  return selfSignedCertificate(dir, "token", "/CN=oci-image test token issuer");
}

export async function startTokenServer(options: TokenServerOptions): Promise<RunningTokenServer> {
  const { keyPath, certPath } = makeSigningCertificate(options.dir);
  const key = createPrivateKey(readFileSync(keyPath));
  const certDer = new X509Certificate(readFileSync(certPath)).raw.toString("base64");
  const requests: TokenRequestRecord[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () =>
      answer(request, Buffer.concat(chunks).toString("utf8"), response, { ...options, key, certDer, requests }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return { url, realm: `${url}/token`, certPath, requests, stop: () => closeServer(server) };
}

interface AnswerContext extends TokenServerOptions {
  key: KeyObject;
  certDer: string;
  requests: TokenRequestRecord[];
}

function answer(request: IncomingMessage, body: string, response: ServerResponse, context: AnswerContext): void {
  const url = new URL(request.url ?? "/", "http://localhost");
  if (url.pathname !== "/token") {
    response.writeHead(404).end();
    return;
  }
  // GET: scope and service in the query, Basic credentials. POST (OAuth2): all of it in a form.
  const params = request.method === "POST" ? new URLSearchParams(body) : url.searchParams;
  const scopes = params
    .getAll("scope")
    .flatMap((scope) => scope.split(" "))
    .filter(Boolean);
  let credentials = parseBasic(request.headers.authorization);
  const grant = request.method === "POST" ? (params.get("grant_type") ?? "") : undefined;
  if (grant === "refresh_token") {
    const user = context.refreshTokens?.[params.get("refresh_token") ?? ""];
    credentials = user === undefined ? undefined : { user, password: context.users[user] ?? "" };
  }
  const record: TokenRequestRecord = {
    method: request.method ?? "GET",
    grant,
    scope: scopes,
    service: params.get("service"),
    user: credentials?.user,
    authorized: false,
  };
  context.requests.push(record);
  if (
    (grant !== undefined && !credentials) ||
    (credentials && context.users[credentials.user] !== credentials.password)
  ) {
    response
      .writeHead(401, { "content-type": "application/json" })
      .end(JSON.stringify({ details: "incorrect username or password" }));
    return;
  }
  const anonymous = !credentials;
  if (anonymous && context.anonymousPull === false) {
    response
      .writeHead(401, { "content-type": "application/json" })
      .end(JSON.stringify({ details: "authentication required" }));
    return;
  }
  record.authorized = true;
  const access = scopes.map((scope) => {
    const [type, ...rest] = scope.split(":");
    const actions = (rest.pop() ?? "").split(",").filter(Boolean);
    const granted = anonymous ? actions.filter((action) => action === "pull") : actions;
    return { type, name: rest.join(":"), actions: granted };
  });
  const now = Math.floor(Date.now() / 1000);
  const expiresIn = context.expiresIn ?? 300;
  const claims = {
    iss: context.issuer,
    sub: credentials?.user ?? "",
    aud: context.service,
    exp: now + expiresIn,
    nbf: now - 10,
    iat: now,
    jti: randomBytes(12).toString("hex"),
    access,
  };
  const header = { typ: "JWT", alg: "RS256", x5c: [context.certDer] };
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = sign("sha256", Buffer.from(unsigned), context.key).toString("base64url");
  const token = `${unsigned}.${signature}`;
  response.writeHead(200, { "content-type": "application/json" }).end(
    JSON.stringify({
      token,
      access_token: token,
      expires_in: expiresIn,
      issued_at: new Date(now * 1000).toISOString(),
    }),
  );
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0
    ? { user: decoded, password: "" }
    : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function base64url(text: string): string {
  return Buffer.from(text).toString("base64url");
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
