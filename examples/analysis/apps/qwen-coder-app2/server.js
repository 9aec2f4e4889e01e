// "Calculator", as a code model wrote it. Deliberate flaws for the analyzers:
// - the expression from the query string goes to eval (static: security/detect-eval-with-expression,
//   no-eval; AI review);
// - a file name from the query string is read from disk unchecked (static: non-literal fs filename,
//   path traversal);
// - the result is echoed unescaped and no security headers are sent (dynamic scan).
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><html><head><title>Calc</title></head><body><h1>Calculator</h1>' +
      '<a href="/calc?expr=1%2B2">1+2</a> <a href="/help?topic=intro">help</a></body></html>');
    return;
  }
  if (url.pathname === '/calc') {
    const expr = url.searchParams.get('expr') || '0';
    let result;
    try {
      result = eval(expr);
    } catch (err) {
      result = `error: ${err.message}`;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><html><body><p>${expr} = ${result}</p><a href="/">back</a></body></html>`);
    return;
  }
  if (url.pathname === '/help') {
    const topic = url.searchParams.get('topic') || 'intro';
    fs.readFile(path.join(__dirname, 'help', topic + '.txt'), 'utf8', (err, text) => {
      if (err) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`no help for ${topic}`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(text);
    });
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
});

server.listen(Number(process.env.PORT || 8080), process.env.HOST || '0.0.0.0', () => {
  console.log(`calculator listening on ${JSON.stringify(server.address())}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
