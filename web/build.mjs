// Builds the web app and the API reference into one directory that the daemon embeds:
// every file <outdir>/<path> is served at /<path>. Files under an `assets/` directory have
// a content hash in their name and may be cached for ever; the others (the HTML pages, the
// Redoc starter) are revalidated each time.
//
// Usage: node build.mjs <outdir>
//   <outdir>/app/index.html              the app's page (served for /app and every /app/... path)
//   <outdir>/app/assets/main.<hash>.js   the app, bundled and minified by esbuild
//   <outdir>/app/assets/main.<hash>.css
//   <outdir>/docs/index.html             the API reference page (/docs), rendering /openapi.yaml
//   <outdir>/docs/init.js                starts Redoc (a file: the CSP allows no inline script)
//   <outdir>/docs/assets/redoc.<hash>.js Redoc's standalone bundle
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, '..', 'build', 'web'));

const hash = (buf) => createHash('sha256').update(buf).digest('hex').slice(0, 12);

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'app', 'assets'), { recursive: true });
mkdirSync(join(out, 'docs', 'assets'), { recursive: true });

const result = await build({
  entryPoints: [join(here, 'src', 'main.jsx')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name].[hash]',
  assetNames: '[name].[hash]',
  outdir: join(out, 'app', 'assets'),
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => resolve(p));
const js = outputs.find((p) => p.endsWith('.js'));
const css = outputs.find((p) => p.endsWith('.css'));
const rel = (p) => p.slice(out.length); // "/app/assets/main.X.js"

const page = readFileSync(join(here, 'index.html'), 'utf8')
  .replace('%APP_JS%', rel(js))
  .replace('%APP_CSS%', css ? rel(css) : '');
writeFileSync(join(out, 'app', 'index.html'), page);

// Redoc's sidebar footer shows a logo from Redocly's CDN: the page's CSP would block it
// (a violation in the console), and the docs must ask no host but the daemon. An empty
// image in its place (img-src allows data:) keeps the footer's text and link.
const redocLogo = 'https://cdn.redoc.ly/redoc/logo-mini.svg';
const redocText = readFileSync(
  join(here, 'node_modules', 'redoc', 'bundles', 'redoc.standalone.js'),
  'utf8',
);
if (!redocText.includes(redocLogo)) throw new Error(`build.mjs: Redoc no longer has ${redocLogo}`);
const redoc = redocText.replace(redocLogo, "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E");
const redocName = `redoc.${hash(redoc)}.js`;
writeFileSync(join(out, 'docs', 'assets', redocName), redoc);
const docs = readFileSync(join(here, 'docs.html'), 'utf8').replace('%REDOC_JS%', '/docs/assets/' + redocName);
writeFileSync(join(out, 'docs', 'index.html'), docs);
copyFileSync(join(here, 'docs-init.js'), join(out, 'docs', 'init.js'));
