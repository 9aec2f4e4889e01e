import { timingSafeEqual, createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';

// Access control. On 127.0.0.1 (the default) the dashboard is as private as the machine. Bound
// anywhere else it refuses to start without SHEPHERD_DASHBOARD_TOKEN, and then every request
// needs the token: `Authorization: Bearer <token>`, or the cookie set by opening any page once
// with `?token=<token>` (the token is then removed from the address bar).

export const COOKIE = 'shepherd_dashboard';

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || /^127\./.test(host);
}

/** Throws when the bind address needs a token and none is configured. */
export function checkBind(host: string, token: string | undefined): void {
  if (!isLoopback(host) && !token) {
    throw new Error(
      `host: binding the dashboard to ${host} (not loopback) requires SHEPHERD_DASHBOARD_TOKEN; or keep 127.0.0.1 and put your own proxy in front`,
    );
  }
  if (token !== undefined && token.length < 16) throw new Error('SHEPHERD_DASHBOARD_TOKEN: use at least 16 characters');
}

const digest = (s: string) => createHash('sha256').update(s).digest();
/** Compares secrets in constant time, whatever their lengths (hashed first). */
export const sameSecret = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));
const same = sameSecret;

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  return header?.startsWith('Bearer ') ? header.slice(7) || undefined : undefined;
}

export function requireToken(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (!token) return next();
    const bearer = bearerToken(c.req.header('authorization'));
    const cookie = getCookie(c, COOKIE);
    if ((bearer && same(bearer, token)) || (cookie && same(cookie, token))) return next();
    const query = c.req.query('token');
    if (query && same(query, token) && c.req.method === 'GET') {
      setCookie(c, COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/' });
      const url = new URL(c.req.url);
      url.searchParams.delete('token');
      return c.redirect(url.pathname + url.search, 303);
    }
    return c.text('unauthorized: send Authorization: Bearer <SHEPHERD_DASHBOARD_TOKEN>, or open the page once with ?token=...', 401);
  };
}
