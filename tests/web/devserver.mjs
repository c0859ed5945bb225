// A development server for the web app, not shipped: serves build/web as the daemon will
// (/app/... answers with the app's page, /docs with the reference, the same CSP) and passes
// /v1, /openapi.yaml and the probes to a running leadloopd.
//
// While the daemon has no sign-in API, a cookie stands in for a session: `ll_dev` holds
// base64url JSON {"secret": "llk_...", "role": "...", "user": {...}|null}; the server sends
// the secret as `Authorization: Bearer` and answers GET /v1/session itself when the daemon
// does not know that route. With the sign-in API, nothing of this is used: requests pass
// unchanged and the daemon's cookie does the work.
//
// Usage: node tests/web/devserver.mjs [--port 5173] [--daemon http://127.0.0.1:8080] [--root build/web]
import { createServer, request as httpRequest } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const here = fileURLToPath(new URL('.', import.meta.url));
const port = Number(arg('port', process.env.LL_DEV_PORT || 5173));
const daemon = new URL(arg('daemon', process.env.LL_DAEMON_URL || 'http://127.0.0.1:8080'));
const root = resolve(arg('root', join(here, '..', '..', 'build', 'web')));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.yaml': 'application/yaml',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};
const CSP = "default-src 'self'";

function devAuth(req) {
  const m = /(?:^|;\s*)ll_dev=([^;]+)/.exec(req.headers.cookie || '');
  if (!m) return null;
  try {
    return JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

function proxy(req, res, auth, body) {
  return new Promise((done) => {
    const headers = { ...req.headers, host: daemon.host };
    // Only the stand-in cookie stays here; the daemon's own session cookie passes.
    if (headers.cookie) {
      const rest = headers.cookie.split(/;\s*/).filter((c) => !c.startsWith('ll_dev='));
      if (rest.length) headers.cookie = rest.join('; ');
      else delete headers.cookie;
    }
    if (auth && !headers.authorization) headers.authorization = `Bearer ${auth.secret}`;
    const up = httpRequest(
      { host: daemon.hostname, port: daemon.port, method: req.method, path: req.url, headers },
      (r) => {
        const chunks = [];
        r.on('data', (c) => chunks.push(c));
        r.on('end', () => done({ status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks) }));
      },
    );
    up.on('error', (e) => done({ status: 502, headers: { 'content-type': 'text/plain' }, body: Buffer.from(String(e)) }));
    up.end(body);
  });
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

async function api(req, res) {
  const auth = devAuth(req);
  const body = await readBody(req);
  const r = await proxy(req, res, auth, body);
  // The daemon without the sign-in API: stand in for GET /v1/session.
  if (req.url.split('?')[0] === '/v1/session' && r.status === 404 && req.method === 'GET') {
    if (!auth) {
      res.writeHead(401, { 'content-type': 'application/problem+json' });
      return res.end(JSON.stringify({ type: 'https://leadloop.dev/problems/unauthorized', title: 'Unauthorized', status: 401, detail: 'not signed in (dev server)' }));
    }
    const ws = await proxy({ ...req, method: 'GET', url: '/v1/workspace', headers: { accept: 'application/json' } }, res, auth);
    if (ws.status !== 200) {
      res.writeHead(ws.status, ws.headers);
      return res.end(ws.body);
    }
    const w = JSON.parse(ws.body);
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(
      JSON.stringify({
        kind: 'api_key',
        role: auth.role,
        workspace: { id: w.id, slug: w.slug, name: w.name, currency: w.currency },
        user: auth.user || null,
        api_key: { id: null, prefix: auth.secret.slice(0, 12), name: auth.name || 'dev server' },
      }),
    );
  }
  const headers = { ...r.headers };
  delete headers['transfer-encoding'];
  delete headers.connection;
  res.writeHead(r.status, headers);
  res.end(r.body);
}

async function file(req, res) {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  let rel;
  if (path === '/' || path === '') {
    res.writeHead(302, { location: '/app' });
    return res.end();
  }
  if (path === '/docs' || path === '/docs/') rel = 'docs/index.html';
  else if (path.startsWith('/app/assets/') || path.startsWith('/docs/')) rel = path.slice(1);
  else if (path === '/app' || path.startsWith('/app/')) rel = 'app/index.html';
  else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    return res.end('not found');
  }
  const full = normalize(join(root, rel));
  if (!full.startsWith(root)) {
    res.writeHead(404);
    return res.end();
  }
  try {
    await stat(full);
    const data = await readFile(full);
    res.writeHead(200, {
      'content-type': TYPES[extname(full)] || 'application/octet-stream',
      'content-security-policy': CSP,
      'cache-control': rel.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(data);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }
}

createServer((req, res) => {
  const p = req.url.split('?')[0];
  const toDaemon = p.startsWith('/v1/') || p === '/openapi.yaml' || p === '/healthz' || p === '/readyz';
  (toDaemon ? api(req, res) : file(req, res)).catch((e) => {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(e));
  });
}).listen(port, '127.0.0.1', () => {
  console.log(`devserver: http://127.0.0.1:${port}/app (root ${root}, daemon ${daemon.origin})`);
});
