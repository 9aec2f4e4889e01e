// "Guestbook", the clean-ish one: output is escaped and the usual security headers are sent, so
// the analyzers should find little or nothing here (a baseline for the flawed apps).
'use strict';
const http = require('node:http');

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const entries = ['hello from the guestbook'];

function send(res, status, type, body) {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/health') return send(res, 200, 'text/plain', 'ok');
  if (url.pathname === '/') {
    const list = entries.map((e) => `<li>${escapeHtml(e)}</li>`).join('');
    return send(res, 200, 'text/html; charset=utf-8',
      `<!doctype html><html><head><title>Guestbook</title></head><body><ul>${list}</ul><a href="/greet?name=visitor">greet</a></body></html>`);
  }
  if (url.pathname === '/greet') {
    const name = url.searchParams.get('name') || 'stranger';
    return send(res, 200, 'text/html; charset=utf-8', `<!doctype html><html><body><p>Hello, ${escapeHtml(name)}!</p></body></html>`);
  }
  return send(res, 404, 'text/plain', 'not found');
});

server.listen(Number(process.env.PORT || 8080), process.env.HOST || '0.0.0.0', () => {
  console.log(`guestbook listening on ${JSON.stringify(server.address())}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
