// Copies the files the package carries but the repository keeps once, elsewhere:
// activation.proto and the recommended service config. Runs on `npm ci`, `npm install`
// and `npm pack` in client/node (the "prepare" script); a tarball carries the copies.
'use strict';

const fs = require('fs');
const path = require('path');

const here = path.join(__dirname, '..');
const repo = path.join(here, '..', '..');
const files = [
  [path.join(repo, 'proto', 'activation', 'v1', 'activation.proto'),
    path.join(here, 'proto', 'activation', 'v1', 'activation.proto')],
  [path.join(repo, 'client', 'service_config.json'), path.join(here, 'service_config.json')],
];

for (const [from, to] of files) {
  if (!fs.existsSync(from)) {
    if (fs.existsSync(to)) continue;  // an unpacked tarball: the copy is already there
    throw new Error(`${from} is missing: build the package from the actd repository`);
  }
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}
