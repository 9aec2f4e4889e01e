// "Notes search", as a code model wrote it. Deliberate flaws for the analyzers:
// - the search term is echoed into HTML unescaped (reflected XSS: dynamic scan, AI review);
// - no security headers at all, and X-Powered-By gives the stack away (dynamic scan).
'use strict';
const http = require('node:http');

const notes = ['buy milk', 'call the plumber', 'renew passport', 'water the plants'];

function page(body) {
  return `<!doctype html><html><head><title>Notes</title></head><body>${body}</body></html>`;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  res.setHeader('X-Powered-By', 'notes-app/1.0 node');
  if (url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page('<h1>Notes</h1><a href="/search?q=milk">search for milk</a><form action="/search"><input name="q"></form>'));
    return;
  }
  if (url.pathname === '/search') {
    const q = url.searchParams.get('q') || '';
    const hits = notes.filter((n) => n.includes(q));
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page(`<h1>Results for ${q}</h1><ul>${hits.map((h) => `<li>${h}</li>`).join('')}</ul><a href="/">back</a>`));
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
});

server.listen(Number(process.env.PORT || 8080), process.env.HOST || '0.0.0.0', () => {
  console.log(`notes app listening on ${JSON.stringify(server.address())}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
