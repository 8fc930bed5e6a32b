// Builds the single executable file dist/userns-netns: our code, execa and koffi in one
// CommonJS file, with koffi's linux-x64 native addon embedded (gzip+base64) and the licence
// texts of everything bundled appended at the end.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist');
const outFile = join(outDir, 'userns-netns');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const addonPath = join(root, 'node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node');
const addon = readFileSync(addonPath);
const addonSha = createHash('sha256').update(addon).digest('hex');

/** koffi: take its CommonJS entry, and replace its prebuilt-binary packages by our embedded loader. */
const koffiPlugin = {
  name: 'koffi-embedded',
  setup(b) {
    b.onResolve({ filter: /^koffi$/ }, () => ({ path: join(root, 'node_modules/koffi/index.cjs') }));
    b.onResolve({ filter: /^@koromix\/koffi-/ }, (args) => ({
      path: args.path,
      namespace: args.path === '@koromix/koffi-linux-x64' ? 'koffi-native' : 'koffi-absent',
    }));
    b.onLoad({ filter: /.*/, namespace: 'koffi-absent' }, () => ({
      contents: 'throw new Error("this koffi platform is not bundled");',
      loader: 'js',
    }));
    b.onLoad({ filter: /.*/, namespace: 'koffi-native' }, () => ({
      contents:
        `const { loadEmbeddedAddon } = require(${JSON.stringify(join(root, 'src/sys/native-addon.ts'))});\n` +
        `module.exports = loadEmbeddedAddon(${JSON.stringify(addonSha)}, ${addon.length});\n`,
      loader: 'js',
      resolveDir: root,
    }));
  },
};

mkdirSync(outDir, { recursive: true });
// BUNDLE_MINIFY=0 keeps names readable, e.g. for a CPU profile.
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify: process.env.BUNDLE_MINIFY !== '0', charset: 'ascii', write: false, logLevel: 'warning' };
const result = await build({
  ...common,
  entryPoints: [join(root, 'plugins/userns-netns/main.ts')],
  outfile: outFile,
  legalComments: 'none', // full licence texts are appended below instead
  define: { __PLUGIN_VERSION__: JSON.stringify(pkg.version) },
  plugins: [koffiPlugin],
  metafile: true,
  // Strings with "\n" stay escaped (no raw newlines in template literals): the code becomes
  // one line, so the launcher takes it out of its comment with a single slice.
  supported: { 'template-literal': false },
});
// Wrapped like Node wraps a CommonJS module: the launcher calls it with its own module's values.
const code = `(function (exports, require, module, __filename, __dirname) {${result.outputFiles[0].text}\n})`;
// The code rides in line comments: nothing in it may end a line comment early.
if (/[\r\u2028\u2029]/.test(code)) throw new Error('bundle: unexpected line terminator in the code');
if (/[^\x00-\x7f]/.test(code)) throw new Error('bundle: non-ASCII in the code; the launcher reads it as latin1');
if (/\bimport\(/.test(code)) throw new Error('bundle: a dynamic import() survived bundling; vm.Script cannot run it');
const codeHash = createHash('sha256').update(code).digest('hex').slice(0, 32);
const CODE_END_PLACEHOLDER = '@@code-end@@';
const launcher = await build({
  ...common,
  entryPoints: [join(root, 'src/sys/launcher.ts')],
  outfile: outFile,
  legalComments: 'none',
  // The byte offset where the code section ends is patched in below, once it is known, so the
  // launcher reads only that much of the file (not the addon behind it).
  define: { __CODE_HASH__: JSON.stringify(codeHash), __CODE_END__: JSON.stringify(CODE_END_PLACEHOLDER) },
});
const asComment = (text) => text.split('\n').map((l) => `//${l}`).join('\n');

// Licence texts of every package that ended up in the bundle.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (m) packages.add(m[1]);
}
packages.add('@koromix/koffi-linux-x64');
let licences = '';
for (const name of [...packages].sort()) {
  const dir = join(root, 'node_modules', name);
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  const text = file ? readFileSync(join(dir, file), 'utf8') : '(no licence file shipped in the package)';
  licences += `\n---- ${name}@${version} ----\n${text.replace(/\*\//g, '* /')}\n`;
}
const addonB64 = gzipSync(addon, { level: 9 }).toString('base64');
// Written beside and renamed: a plugin being run while we build never sees a half-written file.
const tmpFile = `${outFile}.${process.pid}.tmp`;
let head = '#!/usr/bin/env node\n' + launcher.outputFiles[0].text + '\n//@@userns-netns:code\n' + asComment(code);
if (head.split(CODE_END_PLACEHOLDER).length !== 2) throw new Error('bundle: the code-end placeholder must appear exactly once');
// Everything up to the addon marker is ASCII, so characters and bytes agree.
head = head.replace(CODE_END_PLACEHOLDER, String(head.length).padStart(CODE_END_PLACEHOLDER.length, '0'));
writeFileSync(
  tmpFile,
  head +
    '\n//@@userns-netns:addon\n' + asComment(addonB64) +
    '\n//@@userns-netns:end\n' +
    `/* Third-party licences of the code bundled in this file:\n${licences}*/\n`,
);
chmodSync(tmpFile, 0o755);
renameSync(tmpFile, outFile);
writeFileSync(join(outDir, 'package.json'), '{"type":"commonjs"}\n'); // dist/ sits under our ESM package.json
const size = readFileSync(outFile).length;
console.log(`build: ${outFile} (${(size / 1024).toFixed(0)} KiB, ${packages.size} bundled packages, addon sha256 ${addonSha.slice(0, 12)})`);
if (!existsSync(outFile)) process.exit(1);
