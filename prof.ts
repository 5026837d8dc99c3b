import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parseDump, encodeImage } from './composer/index.ts';
const b = gunzipSync(readFileSync('/work/shared/vectors/composefs/cs9-x86_64-developer.dump.gz'));
let bp = 1e9, be = 1e9;
for (let i = 0; i < 6; i++) {
  const c0 = process.cpuUsage();
  const tree = parseDump(b);
  const c1 = process.cpuUsage(c0);
  encodeImage(tree);
  const c2 = process.cpuUsage();
  const enc = (c2.user + c2.system - c0.user - c0.system - c1.user - c1.system) / 1000;
  bp = Math.min(bp, (c1.user + c1.system) / 1000); be = Math.min(be, enc);
}
console.log('cpu ms: parse', bp.toFixed(0), 'encode', be.toFixed(0));
