// "Inventory API", as a code model wrote it. Deliberate flaws for the analyzers:
// - every fourth request fails with HTTP 500 (a "cache refresh" bug; the performance test sees
//   non-2xx answers under load);
// - the filter parameter becomes a regular expression unchecked (static: non-literal RegExp, ReDoS);
// - only X-Frame-Options is sent: no Content-Security-Policy, no X-Content-Type-Options (dynamic scan).
'use strict';
const http = require('node:http');

const items = [
  { id: 1, name: 'hammer', stock: 12 },
  { id: 2, name: 'nails', stock: 400 },
  { id: 3, name: 'saw', stock: 3 },
];
let served = 0;

function refreshCache() {
  served += 1;
  if (served % 4 === 0) throw new Error('cache refresh raced with a reader');
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  res.setHeader('x-frame-options', 'SAMEORIGIN');
  if (url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  if (url.pathname === '/' || url.pathname === '/items') {
    try {
      refreshCache();
      const filter = url.searchParams.get('filter');
      const matcher = filter ? new RegExp(filter) : null;
      const list = matcher ? items.filter((i) => matcher.test(i.name)) : items;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: list }));
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err.message }));
    }
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
});

server.listen(Number(process.env.PORT || 8080), process.env.HOST || '0.0.0.0', () => {
  console.log(`inventory API listening on ${JSON.stringify(server.address())}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
