import { processIo } from './io/io';
import { run } from './program';

// The `keygate` executable (bin/keygate.js loads this from dist/). Exit codes: 0 ok, 1 API error, 2 usage error.
run(process.argv.slice(2), processIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`keygate: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
