#!/usr/bin/env -S node --
'use strict';
// `node --`: Node 20 reads `--env-file` anywhere on its command line (even after the script), which would swallow
// `keygate keys create --env-file .env`; after `--` everything is the script's.
// `keygate` (package.json bin): runs the CLI built by `npm run build` (TypeScript in apps/cli/src → dist/).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const main = join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
if (!existsSync(main)) {
  process.stderr.write(
    `keygate: the CLI is not built yet (${main} is missing).\n` +
      `Run \`npm run build\` in ${join(__dirname, '..')} once, then try again.\n`,
  );
  process.exit(2);
}
require(main);
