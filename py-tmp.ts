import { readPythonManifest, pythonManifestDigest } from './extractors/index.ts';
const t = performance.now();
const m = readPythonManifest(process.argv[2]!);
console.log(((performance.now()-t)/1000).toFixed(2)+'s', m.distributions.length, 'dists', m.modules.length, 'modules', m.files.length, 'files', m.extensions.length, 'ext', pythonManifestDigest(m));
for (const d of m.distributions.slice(0, 40)) console.log(d.path, d.name, d.version, d.topLevel.join(','), d.record && JSON.stringify({...d.record, missing: d.record.missing.slice(0,3), mismatched: d.record.mismatched.slice(0,3)}));
console.log(m.extensions.slice(0,3).map(e=>e.module+' '+e.requires.needed.join(',')));
