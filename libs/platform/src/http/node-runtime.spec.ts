import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIN_NODE_MAJOR, unsupportedNodeProblem } from './node-runtime';

describe('unsupportedNodeProblem', () => {
  it.each(['v24.0.0', 'v24.21.0', 'v25.1.0', 'v26.10.0'])('accepts %s', (version) => {
    expect(unsupportedNodeProblem(version)).toBeUndefined();
  });

  it.each(['v20.20.2', 'v22.12.0', 'v23.11.1', 'v8.0.0', 'garbage', ''])(
    'refuses %j, naming the need',
    (version) => {
      expect(unsupportedNodeProblem(version)).toMatch(/keygate needs Node\.js 24 or newer/);
    },
  );

  it('says what package.json engines says', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../../../package.json'), 'utf8')) as {
      engines: { node: string };
    };
    expect(pkg.engines.node).toBe(`>=${MIN_NODE_MAJOR}`);
  });

  it('holds for the Node.js running the tests (the node dev dependency)', () => {
    expect(unsupportedNodeProblem(process.version)).toBeUndefined();
  });
});
