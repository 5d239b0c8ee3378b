import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ERRORS, OodError } from '../../errors.js';
import { isLoopbackAddress } from '../peer.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Routes that need a bearer token whenever tokens are configured. */
    requiresAuth?: boolean;
    /** Routes closed (403) unless tokens are configured: an admin action is never left open. */
    admin?: boolean;
    /** Loading and unloading models: as admin routes, but open to this host's loopback when it is trusted. */
    repository?: boolean;
    /**
     * Pages a browser opens: they also take HTTP Basic credentials with a token as the password,
     * and challenge for them, so the browser asks once and sends them with the page's own requests.
     */
    basicAuth?: boolean;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * For a transport that is not a fastify route (gRPC): throws UNAUTHORIZED unless the
     * `authorization` value carries a valid bearer token, whenever tokens are configured.
     */
    checkBearer(authorization: string | undefined, transport?: Transport): void;
    /**
     * For the calls that load and unload models (the gRPC repository methods): a token, and
     * without tokens they are refused, as the admin routes are; but a caller on this host's
     * loopback needs none when the server trusts it (the agent beside the service in its pod).
     */
    checkRepositoryCaller(authorization: string | undefined, fromLoopback: boolean, transport?: Transport): void;
  }
}

/** Where a call came by, for the words of a refusal: gRPC metadata or an HTTP header. */
export type Transport = 'grpc' | 'rest';

const MISSING_TOKEN: Record<Transport, string> = {
  grpc: 'This call needs an authorization: Bearer <token> metadata entry',
  rest: 'This route needs an Authorization: Bearer <token> header',
};

export interface AuthPluginOptions {
  /** Accepted bearer tokens; none means authentication is off. */
  tokens: string[];
  /** Repository loads and unloads from this host's loopback need no token (OOD_REPOSITORY_TRUST_LOOPBACK). */
  trustLoopback?: boolean;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Optional bearer-token authentication for the routes that ask for it. Tokens are compared as
 * sha256 digests with timingSafeEqual: equal lengths, and no early exit that would let a
 * caller learn a token byte by byte from response times. Every token is checked, so the time
 * does not say which one matched either.
 */
export function tokenMatches(presented: string, digests: Buffer[]): boolean {
  const candidate = digest(presented);
  let matched = false;
  for (const d of digests) matched = timingSafeEqual(candidate, d) || matched;
  return matched;
}

function bearerToken(header: unknown, basic: boolean): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match) return match[1];
  if (!basic) return undefined;
  const credentials = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!credentials) return undefined;
  // Any user name: the password is the token.
  const decoded = Buffer.from(credentials[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 && colon < decoded.length - 1 ? decoded.slice(colon + 1) : undefined;
}

export const BASIC_REALM = 'Basic realm="ood-service", charset="UTF-8"';

export default fp<AuthPluginOptions>(
  async (app, { tokens, trustLoopback = false }) => {
    const digests = tokens.map(digest);
    /** Undefined when the token is good; otherwise why not, for the 401. */
    const refusal = (token: string | undefined, missing: string): string | undefined => {
      if (token === undefined) return missing;
      return tokenMatches(token, digests) ? undefined : 'The token is not valid';
    };
    app.decorate('checkBearer', (authorization: string | undefined, transport: Transport = 'grpc') => {
      if (tokens.length === 0) return;
      const why = refusal(bearerToken(authorization, false), MISSING_TOKEN[transport]);
      if (why) throw new OodError('UNAUTHORIZED', why);
    });
    app.decorate('checkRepositoryCaller', (authorization: string | undefined, fromLoopback: boolean, transport: Transport = 'grpc') => {
      if (fromLoopback && trustLoopback) return;
      if (tokens.length === 0) {
        throw new OodError(
          'ADMIN_DISABLED',
          trustLoopback
            ? 'Without tokens (OOD_API_TOKENS or OOD_API_TOKENS_FILE) models are loaded and unloaded only from this host\'s loopback'
            : 'Loading and unloading models needs bearer tokens (OOD_API_TOKENS or OOD_API_TOKENS_FILE), or OOD_REPOSITORY_TRUST_LOOPBACK=true for an agent on this host\'s loopback',
        );
      }
      app.checkBearer(authorization, transport);
    });
    app.addHook('onRequest', async (request: FastifyRequest, reply) => {
      const config = request.routeOptions.config;
      if (config?.repository) {
        try {
          // The socket's own address, never a forwarded header: a header is the caller's to write.
          app.checkRepositoryCaller(request.headers.authorization, isLoopbackAddress(request.socket.remoteAddress ?? ''), 'rest');
        } catch (err) {
          if (err instanceof OodError && err.code === 'UNAUTHORIZED') reply.header('www-authenticate', 'Bearer');
          throw err;
        }
        return;
      }
      if (tokens.length === 0) {
        if (config?.admin) throw new OodError('ADMIN_DISABLED', `${ERRORS.ADMIN_DISABLED.message}; SIGHUP reloads every model (and starts its drift test afresh) without them`);
        return;
      }
      if (!config?.requiresAuth && !config?.admin) return;
      const basic = config.basicAuth === true;
      const why = refusal(
        bearerToken(request.headers.authorization, basic),
        basic
          ? 'This page needs a token: an Authorization: Bearer <token> header, or the token as the password a browser asks for'
          : MISSING_TOKEN.rest,
      );
      if (why) {
        reply.header('www-authenticate', basic ? BASIC_REALM : 'Bearer');
        throw new OodError('UNAUTHORIZED', why);
      }
    });
  },
  { name: 'ood-auth', fastify: '5.x', dependencies: ['ood-error-handler'] },
);
