// A last line of defence for "no secret ever reaches a page": every JSON body the dashboard sends
// goes through this. Values under keys that name a secret are replaced, and credentials in URLs
// (user:password@, token query parameters) are cut, wherever they sit in the data.

// `env`: a program's environment (trainer.env, command env) is shown by name only.
const SECRET_KEY = /^env$|(password|passwd|secret|token|api[_-]?key|credentials?|authorization|webhook[_-]?url|private[_-]?key)$/i;
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+(:[^/\s@]*)?@/gi;
const SECRET_PARAM = /([?&](?:token|key|api[_-]?key|secret|password|sig)=)[^&\s"]+/gi;

export const REDACTED = '[redacted]';

export function redact<T>(value: T): T {
  return walk(value) as T;
}

function walk(v: unknown, secret = false): unknown {
  if (v === null || v === undefined) return v;
  if (Array.isArray(v)) return v.map((x) => walk(x, secret));
  if (typeof v === 'object' && !(v instanceof Date)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, secret || SECRET_KEY.test(k))]));
  }
  if (secret) return REDACTED;
  if (typeof v === 'string') return v.replace(URL_CREDENTIALS, `$1${REDACTED}@`).replace(SECRET_PARAM, `$1${REDACTED}`);
  return v;
}
