/**
 * A whole-tree correctness sweep (not a timing): decodes every ELF file of a tree with the ELF
 * extractor and with readelf (`-dW`, `--dyn-syms -W`, `-V`, `-lW`) and reports every file whose
 * decoded fields differ, with the first differences.
 *
 * Usage: npx tsx bench/extract/compare-readelf.ts [DIR]   (default /usr/lib/x86_64-linux-gnu)
 */
import { listElfFiles, parseElf } from '../../extractors/index.ts';
import { compareWithReadelf } from '../../tests/extractors/readelf.ts';
import { readFileSync } from 'node:fs';

const dir = process.argv[2] ?? '/usr/lib/x86_64-linux-gnu';
let files = 0;
let symbols = 0;
let differing = 0;
let e15 = 0;
for (const f of listElfFiles(dir)) {
  let n: number;
  try {
    n = parseElf(readFileSync(f.abs), f.path).symbols.length;
  } catch (e) {
    e15++;
    console.log(`E15\t${f.path}\t${(e as Error).message}`);
    continue;
  }
  files++;
  symbols += n;
  const diffs = compareWithReadelf(f.abs);
  if (diffs.length) {
    differing++;
    console.log(`DIFF\t${f.path}\t${diffs.slice(0, 3).join(' | ')}`);
  }
}
console.log(
  `${dir}: ${files} ELF files, ${symbols} dynamic symbols compared with readelf; ${differing} files differ; ${e15} E15`,
);
