import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

// The .proto files are not compiled by tsc, so dist/ has none: the path is found by walking up from this
// file to the directory that holds libs/contracts/proto (the source tree, also there when running from dist).
const PROTO_DIR = join('libs', 'contracts', 'proto');

const findProtoRoot = (): string => {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, PROTO_DIR))) return join(dir, PROTO_DIR);
    if (dirname(dir) === dir) return join(process.cwd(), PROTO_DIR);
  }
};

export const PROTO_ROOT = findProtoRoot();

export const KEY_SERVICE_GRPC = {
  package: 'keygate.keys.v1',
  service: 'KeyService',
  protoPath: join(PROTO_ROOT, 'keygate', 'keys', 'v1', 'key_service.proto'),
} as const;

// @grpc/proto-loader options every keygate client and server uses: snake_case fields as in the .proto,
// absent fields stay absent (so `optional` means something), empty lists and maps are present. No `oneofs`:
// it would add a virtual `_field` property beside every proto3 `optional` field.
export const PROTO_LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  arrays: true,
  objects: true,
  includeDirs: [PROTO_ROOT],
};
