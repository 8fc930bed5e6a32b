// Turns a stack trace of the plugin (stderr of a call that failed with code 999, or any logged
// stack) into source lines, with the source map the build wrote beside the artifact:
//
//   node build/stack-to-source.mjs dist/userns-netns-linux-amd64 < stack.txt   (uses <artifact>.map)
//   node build/stack-to-source.mjs dist/userns-netns-linux-amd64.map < stack.txt
//
// Frames of our bundled code read "userns-netns#code-<code hash>:<line>:<column>" (the name the
// launcher compiles the code under, src/sys/launcher.ts); each becomes "src/...ts:line:column"
// followed by that source line. Other lines pass through unchanged (frames of Node itself, and
// of the small launcher, which has no map). A frame of another build (its hash is not the map's)
// is left as it is and noted, and the exit status is then 1: its positions mean nothing in this map.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';

const FRAME = /userns-netns#code-([0-9a-f]{32}):(\d+):(\d+)/g;

function loadMap(arg) {
  const file = arg.endsWith('.map') || !existsSync(`${arg}.map`) ? arg : `${arg}.map`;
  const payload = JSON.parse(readFileSync(file, 'utf8'));
  return { file, payload, map: new SourceMap(payload) };
}

/** The map's source path as a repository path: esbuild writes them relative to dist/. */
const repoPath = (source) => source.replace(/^(?:file:\/\/)?(?:\.\.\/)+/, '');

function sourceLine(payload, source, line) {
  const i = payload.sources.indexOf(source);
  const text = i >= 0 ? payload.sourcesContent?.[i] : undefined;
  return text?.split('\n')[line]?.trim();
}

export function stackToSource(stack, { payload, map }) {
  const hash = payload.x_userns_netns_code_hash;
  let foreign = 0;
  const out = [];
  for (const line of stack.split('\n')) {
    const notes = [];
    const mapped = line.replace(FRAME, (whole, frameHash, l, c) => {
      if (hash && frameHash !== hash) {
        foreign += 1;
        notes.push(`    (code ${frameHash} is another build than this map's ${hash})`);
        return whole;
      }
      // Stack positions are 1-based, the map's 0-based.
      const e = map.findEntry(Number(l) - 1, Number(c) - 1);
      if (!e || e.originalSource === undefined) return whole;
      const text = sourceLine(payload, e.originalSource, e.originalLine);
      if (text) notes.push(`        ${text}`);
      return `${repoPath(e.originalSource)}:${e.originalLine + 1}:${e.originalColumn + 1}`;
    });
    out.push(mapped, ...notes);
  }
  return { text: out.join('\n'), foreign };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = process.argv[2];
  if (!arg || process.argv.length > 3 || arg === '--help') {
    process.stderr.write('usage: node build/stack-to-source.mjs <artifact | artifact.map> < stack.txt\n');
    process.exit(2);
  }
  let loaded;
  try {
    loaded = loadMap(arg);
  } catch (err) {
    process.stderr.write(`stack-to-source: ${arg}: ${err.message}\n`);
    process.exit(2);
  }
  const { text, foreign } = stackToSource(readFileSync(0, 'utf8'), loaded);
  process.stdout.write(text);
  if (foreign > 0) process.stderr.write(`stack-to-source: ${foreign} frame(s) from another build than ${loaded.file}; use that build's map\n`);
  process.exit(foreign > 0 ? 1 : 0);
}
