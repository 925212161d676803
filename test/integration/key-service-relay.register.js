// Lets a child process run the TypeScript sources as they are (transpile only, as ts-jest does with
// isolatedModules), so a test can SIGKILL a real relay process without depending on a fresh `npm run build`.
// Transpiled files are cached by content in the OS temp dir: a test spawns several relays.
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const { tmpdir } = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const cacheDir = path.join(tmpdir(), 'keygate-ts-register');
fs.mkdirSync(cacheDir, { recursive: true });

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const alias = /^@keygate\/(contracts|messaging|platform|testing)(\/.*)?$/.exec(request);
  const target = alias ? path.join(root, 'libs', alias[1], 'src', alias[2] ?? '') : request;
  return resolveFilename.call(this, target, ...rest);
};

const transpile = (source, filename) => {
  const ts = require('typescript');
  return ts.transpileModule(source, {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      esModuleInterop: true,
    },
  }).outputText;
};

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const cached = path.join(
    cacheDir,
    `${createHash('sha1').update(filename).update(source).digest('hex')}.js`,
  );
  let output;
  try {
    output = fs.readFileSync(cached, 'utf8');
  } catch {
    output = transpile(source, filename);
    fs.writeFileSync(`${cached}.${process.pid}`, output);
    fs.renameSync(`${cached}.${process.pid}`, cached); // atomic: concurrent children never read half a file
  }
  module._compile(output, filename);
};
