// A deliberately slow app for e2e tests: every page but /health answers after 400 ms and links to
// more pages with query parameters, so nmap's spider is still busy seconds after it started (time
// enough to kill the container under it).
'use strict';
const http = require('node:http');

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  const n = Number(url.pathname.slice(2)) || 0;
  const links = Array.from({ length: 5 }, (_, i) => `<a href="/p${n * 5 + i + 1}?id=${i}">page</a>`).join(' ');
  setTimeout(() => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><html><body>${links}</body></html>`);
  }, 400);
});
server.listen(Number(process.env.PORT || 8080), process.env.HOST || '0.0.0.0');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
