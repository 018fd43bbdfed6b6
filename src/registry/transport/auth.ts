/**
 * Authentication: nothing is sent until the registry answers 401; its
 * challenge chooses Basic (the credentials, to the registry only) or Bearer
 * (tokens from the realm, cached per scope, shared by concurrent requests,
 * renewed before they expire and after a 401).
 */
import { RegistryError } from "../../errors.js";
import { adviceOf, withAdvice } from "../advice.js";
import { parseChallenges, type Challenge } from "../challenge.js";
import type { Credentials } from "../credentials.js";
import { httpError, readErrorBody } from "../http-errors.js";
import type { RetryPolicy } from "./retry.js";
import { basicAuthorization, requestToken, type Token, type TokenRealm } from "./token.js";
import type { Send, TransportRequest, TransportResponse } from "./types.js";

export interface AuthOptions {
  /** The registry's origin: only its 401s are answered, only it gets Basic credentials. */
  origin: string;
  credentials?: () => Promise<Credentials | undefined>;
  /** How token requests are sent (redirects followed, no authentication of their own). */
  tokenSend: Send;
  policy: RetryPolicy;
}

export class Authenticator {
  private credentialsLoaded?: Promise<Credentials | undefined>;
  private credentials?: Credentials;
  private scheme: "none" | "basic" | "bearer" = "none";
  private realm?: TokenRealm;
  private readonly tokens = new Map<string, Token>();
  private readonly pending = new Map<string, Promise<Token>>();

  constructor(private readonly options: AuthOptions) {}

  /** The step: `request` with the Authorization for `scope`, and one authentication round on a 401. */
  step(next: Send): Send {
    return async (request) => {
      const wanted = request.scope;
      if (wanted === undefined) return next(request);
      let authorization = await this.authorize(wanted, request.what);
      let response = await next(withAuthorization(request, authorization));
      if (!this.isOurs401(response)) return response;
      const challenges = parseChallenges(response.headers["www-authenticate"]);
      await readErrorBody(response.body);
      if (challenges.length === 0)
        throw new RegistryError(
          "UNAUTHORIZED",
          `${request.what}: 401 Unauthorized without a WWW-Authenticate challenge; the registry gave no way to log in`,
          { status: 401 },
        );
      await this.authenticate(challenges, wanted, request.what, authorization !== undefined);
      authorization = await this.authorize(wanted, request.what);
      response = await next(withAuthorization(request, authorization));
      if (!this.isOurs401(response)) return response;
      const error = httpError(request.what, 401, await readErrorBody(response.body), response.headers);
      if (this.credentials)
        throw new RegistryError("UNAUTHORIZED", `${error.message}: the registry refused these credentials`, {
          status: 401,
        });
      throw this.loginNeeded(error.message);
    };
  }

  private isOurs401(response: TransportResponse): boolean {
    return response.status === 401 && response.url.origin === this.options.origin;
  }

  private loginNeeded(message: string): RegistryError {
    return withAdvice(
      new RegistryError("UNAUTHORIZED", `${message}: authentication required`, { status: 401 }),
      "log-in",
    );
  }

  /** Loaded once; concurrent first requests (a push's HEADs) share the one lookup. */
  private loadCredentials(): Promise<Credentials | undefined> {
    this.credentialsLoaded ??= (async () => (this.credentials = await this.options.credentials?.()))();
    return this.credentialsLoaded;
  }

  /** The Authorization header for `scope`; a token failure names what it was for. */
  private async authorize(scope: string, what: string): Promise<string | undefined> {
    if (this.scheme === "basic") return this.credentials ? basicAuthorization(this.credentials) : undefined;
    if (this.scheme !== "bearer") return undefined;
    const cached = this.tokens.get(scope);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    try {
      return `Bearer ${(await this.fetchToken(scope)).token}`;
    } catch (error) {
      if (error instanceof RegistryError && !error.message.startsWith(what)) {
        const named = new RegistryError(error.code, `${what}: ${error.message}`, {
          status: error.status,
          where: error.where,
          cause: error,
        });
        const advice = adviceOf(error);
        throw advice ? withAdvice(named, advice) : named;
      }
      throw error;
    }
  }

  private async authenticate(challenges: Challenge[], scope: string, what: string, hadAuthorization: boolean) {
    const bearer = challenges.find((challenge) => challenge.scheme === "bearer" && challenge.params.realm);
    const basic = challenges.find((challenge) => challenge.scheme === "basic");
    const credentials = await this.loadCredentials();
    if (bearer) {
      this.scheme = "bearer";
      this.realm = { realm: bearer.params.realm!, service: bearer.params.service };
      // A 401 with a token in hand: it expired or lost its grant; get a fresh one.
      this.tokens.delete(scope);
      return;
    }
    if (basic) {
      if (!credentials) throw this.loginNeeded(`${what}: 401 Unauthorized`);
      if (hadAuthorization && this.scheme === "basic")
        throw new RegistryError(
          "UNAUTHORIZED",
          `${what}: 401 Unauthorized: the registry refused the credentials of user "${credentials.username}"`,
          { status: 401 },
        );
      this.scheme = "basic";
      return;
    }
    const schemes = challenges.map((challenge) => challenge.scheme).join(", ");
    throw new RegistryError(
      "UNAUTHORIZED",
      `${what}: 401 Unauthorized with an authentication scheme this tool does not speak (${schemes})`,
      { status: 401 },
    );
  }

  /** A bearer token for `scope`; concurrent callers share one request. */
  private fetchToken(scope: string): Promise<Token> {
    const pending = this.pending.get(scope);
    if (pending) return pending;
    const request = (async () => {
      const token = await requestToken(
        this.options.tokenSend,
        this.options.policy,
        this.realm!,
        scope,
        await this.loadCredentials(),
      );
      this.tokens.set(scope, token);
      return token;
    })().finally(() => this.pending.delete(scope));
    this.pending.set(scope, request);
    return request;
  }
}

function withAuthorization(request: TransportRequest, authorization: string | undefined): TransportRequest {
  return authorization ? { ...request, headers: { ...request.headers, authorization } } : request;
}
