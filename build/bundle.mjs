// Builds the Node-script file dist/userns-netns: our code, execa and koffi in one
// CommonJS file, with koffi's linux-x64 native addon embedded (gzip+base64) and the licence
// texts of everything bundled appended at the end. Then the self-contained executables
// dist/userns-netns-linux-{amd64,arm64} (build/sea.mjs) and dist/SHA256SUMS.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { packageFile } from './sea-inputs.mjs';
import { buildSea } from './sea.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist');
const outFile = join(outDir, 'userns-netns');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const pins = JSON.parse(readFileSync(join(root, 'build/sea-pins.json'), 'utf8'));
const addons = Object.fromEntries(
  Object.entries(pins.targets).map(([arch, t]) => [
    arch,
    packageFile(root, {
      spec: `${t.koffiPackage}@${pkg.dependencies.koffi}`,
      integrity: t.koffiIntegrity,
      innerPath: t.koffiFile,
      sha256: t.koffiSha256,
      localPath: join(root, 'node_modules', t.koffiPackage, t.koffiFile),
    }).bytes,
  ]),
);
const addon = addons.amd64;
const addonSha = createHash('sha256').update(addon).digest('hex');

/** koffi: take its CommonJS entry, and replace its prebuilt-binary packages by our embedded loader. */
const koffiPlugin = (arch, bytes) => ({
  name: 'koffi-embedded',
  setup(b) {
    const native = pins.targets[arch].koffiPackage;
    const sha = createHash('sha256').update(bytes).digest('hex');
    b.onResolve({ filter: /^koffi$/ }, () => ({ path: join(root, 'node_modules/koffi/index.cjs') }));
    b.onResolve({ filter: /^@koromix\/koffi-/ }, (args) => ({
      path: args.path,
      namespace: args.path === native ? 'koffi-native' : 'koffi-absent',
    }));
    // koffi makes a require() with node:module's createRequire for loading an addon from disk,
    // which the embedded one never does; node:module pulls in Node's ESM loader on every call.
    b.onResolve({ filter: /^node:module$/ }, (args) => (args.importer.includes('/node_modules/koffi/') ? { path: 'node:module', namespace: 'koffi-no-module' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'koffi-no-module' }, () => ({
      contents: 'exports.createRequire = () => () => { throw new Error("koffi: loading an addon from disk is not bundled"); };',
      loader: 'js',
    }));
    b.onLoad({ filter: /.*/, namespace: 'koffi-absent' }, () => ({
      contents: 'throw new Error("this koffi platform is not bundled");',
      loader: 'js',
    }));
    b.onLoad({ filter: /.*/, namespace: 'koffi-native' }, () => ({
      contents: `const { loadEmbeddedAddon } = require(${JSON.stringify(join(root, 'src/sys/native-addon.ts'))});\n` + `module.exports = loadEmbeddedAddon(${JSON.stringify(sha)}, ${bytes.length});\n`,
      loader: 'js',
      resolveDir: root,
    }));
  },
});

mkdirSync(outDir, { recursive: true });
// BUNDLE_MINIFY=0 keeps names readable, e.g. for a CPU profile.
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify: process.env.BUNDLE_MINIFY !== '0', charset: 'ascii', write: false, logLevel: 'warning' };
/** The plugin's code for one architecture (it names that architecture's addon by hash and size). */
async function bundleCode(arch) {
  const result = await build({
    ...common,
    entryPoints: [join(root, 'plugins/userns-netns/main.ts')],
    outfile: outFile,
    legalComments: 'none', // full licence texts are appended below instead
    define: { __PLUGIN_VERSION__: JSON.stringify(pkg.version) },
    plugins: [koffiPlugin(arch, addons[arch])],
    metafile: true,
    // Strings with "\n" stay escaped (no raw newlines in template literals): the code is a few
    // long lines, cheap for the launcher to take out of its comment.
    supported: { 'template-literal': false },
    // Written beside the artifact, never into it (no sourceMappingURL either): the map is for a
    // maintainer turning a logged stack into source lines (build/stack-to-source.mjs).
    sourcemap: 'external',
    // Wrapped like Node wraps a CommonJS module (the launcher calls it with its own module's
    // values); as esbuild's banner and footer, so that the map counts the wrapper's line too.
    banner: { js: '(function (exports, require, module, __filename, __dirname) {' },
    footer: { js: '})' },
  });
  const js = result.outputFiles.find((f) => !f.path.endsWith('.map'));
  const map = JSON.parse(result.outputFiles.find((f) => f.path.endsWith('.map')).text);
  const code = js.text.replace(/\n$/, '');
  // The code rides in line comments: nothing in it may end a line comment early.
  if (/[\r\u2028\u2029]/.test(code)) throw new Error('bundle: unexpected line terminator in the code');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a range from NUL: everything outside ASCII
  if (/[^\x00-\x7f]/.test(code)) throw new Error('bundle: non-ASCII in the code; the launcher reads it as latin1');
  if (/\bimport\(/.test(code)) throw new Error('bundle: a dynamic import() survived bundling; vm.Script cannot run it');
  const codeHash = createHash('sha256').update(code).digest('hex').slice(0, 32);
  // Which code the map describes: stack frames of the code name this hash (src/sys/launcher.ts),
  // and so does the 'start' line of every call's log.
  map.x_userns_netns_code_hash = codeHash;
  return { code, codeHash, map: `${JSON.stringify(map)}\n`, metafile: result.metafile };
}

/** The source map of `artifact`'s code, written beside it as `<artifact>.map`. */
function writeMap(artifact, map) {
  const tmp = `${artifact}.map.${process.pid}.tmp`;
  writeFileSync(tmp, map);
  renameSync(tmp, `${artifact}.map`);
  return `${artifact}.map`;
}

/** The launcher, for the Node-script file or (sea) a self-contained executable. */
async function bundleLauncher(codeHash, codeEnd, sea) {
  const out = await build({
    ...common,
    entryPoints: [join(root, 'src/sys/launcher.ts')],
    outfile: outFile,
    legalComments: 'none',
    define: { __CODE_HASH__: JSON.stringify(codeHash), __CODE_END__: JSON.stringify(codeEnd), __SEA__: String(sea) },
  });
  return out.outputFiles[0].text;
}

const { code, codeHash, map, metafile } = await bundleCode('amd64');
const CODE_END_PLACEHOLDER = '@@code-end@@';
// The byte offset where the code section ends is patched in below, once it is known, so the
// launcher reads only that much of the file (not the addon behind it).
const launcherText = await bundleLauncher(codeHash, CODE_END_PLACEHOLDER, false);
const asComment = (text) =>
  text
    .split('\n')
    .map((l) => `//${l}`)
    .join('\n');

// Licence texts of every package that ended up in the bundle.
const packages = new Set();
for (const input of Object.keys(metafile.inputs)) {
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
let head = '#!/usr/bin/env node\n' + launcherText + '\n//@@userns-netns:code\n' + asComment(code);
if (head.split(CODE_END_PLACEHOLDER).length !== 2) throw new Error('bundle: the code-end placeholder must appear exactly once');
// Everything up to the addon marker is ASCII, so characters and bytes agree.
head = head.replace(CODE_END_PLACEHOLDER, String(head.length).padStart(CODE_END_PLACEHOLDER.length, '0'));
writeFileSync(tmpFile, head + '\n//@@userns-netns:addon\n' + asComment(addonB64) + '\n//@@userns-netns:end\n' + `/* Third-party licences of the code bundled in this file:\n${licences}*/\n`);
chmodSync(tmpFile, 0o755);
renameSync(tmpFile, outFile);
writeFileSync(join(outDir, 'package.json'), '{"type":"commonjs"}\n'); // dist/ sits under our ESM package.json
const size = readFileSync(outFile).length;
console.log(`build: ${outFile} (${(size / 1024).toFixed(0)} KiB, ${packages.size} bundled packages, addon sha256 ${addonSha.slice(0, 12)}, code ${codeHash})`);
if (!existsSync(outFile)) process.exit(1);
const maps = [writeMap(outFile, map)];

// Self-contained executables, one per architecture. BUILD_SEA=0 skips them (a quick
// iteration on the Node-script file); the tests and the install need them.
const artifacts = [outFile];
if (process.env.BUILD_SEA !== '0') {
  const legal = `Third-party licences of the code in this file:\n${licences}\n---- node@${pins.node} ----\n(the LICENSE file of the Node.js binary: see https://github.com/nodejs/node/blob/v${pins.node}/LICENSE)\n`;
  for (const arch of Object.keys(pins.targets)) {
    const c = await bundleCode(arch);
    const launcher = await bundleLauncher(c.codeHash, '0', true);
    const sea = await buildSea({ root, outDir, arch, pins, launcher, code: c.code, addon: addons[arch], legal });
    artifacts.push(sea);
    maps.push(writeMap(sea, c.map));
    console.log(`build: ${sea}: code ${c.codeHash}`);
  }
}
// Written last and beside first: SHA256SUMS always describes files that are all there.
const sums = [...artifacts, ...maps].map((f) => `${createHash('sha256').update(readFileSync(f)).digest('hex')}  ${basename(f)}\n`).join('');
writeFileSync(join(outDir, `SHA256SUMS.${process.pid}.tmp`), sums);
renameSync(join(outDir, `SHA256SUMS.${process.pid}.tmp`), join(outDir, 'SHA256SUMS'));
