/**
 * The machine's apt sources, parsed, and the private sources file the executor writes from them.
 * Pure: takes the text of `/etc/apt/sources.list` and `sources.list.d/*` and returns values; the
 * archive URIs come only from the machine, never from this repository.
 *
 * @see specs/seed.md §2
 */

/** One source stanza: where to fetch indexes from. */
export interface AptSource {
  /** Archive base URIs, as the machine's configuration gives them. */
  uris: string[];
  /** Suites, e.g. the release and its security and updates suites. */
  suites: string[];
  /** Components, e.g. `main`. */
  components: string[];
  /** The keyring file named by `Signed-By`, when given. */
  signedBy?: string;
}

/**
 * Parses a deb822 `.sources` file (stanzas separated by blank lines; `#` comments). Only stanzas
 * whose `Types` include `deb` and that are not `Enabled: no` are returned.
 */
export function parseDeb822Sources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (!m) continue;
      last = m[1]!.toLowerCase();
      fields.set(last, m[2]!.trim());
    }
    const words = (k: string): string[] => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    if (!words('types').includes('deb')) continue;
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const s: AptSource = { uris: words('uris'), suites: words('suites'), components: words('components') };
    const signed = fields.get('signed-by');
    if (signed && !signed.includes('\n') && !signed.includes('BEGIN PGP')) s.signedBy = signed;
    if (s.uris.length && s.suites.length) out.push(s);
  }
  return out;
}

/** Parses one-line `sources.list` syntax (`deb [opts] URI SUITE COMPONENT…`); `deb-src` lines are skipped. */
export function parseOneLineSources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line.startsWith('deb ')) continue;
    let rest = line.slice(4).trim();
    let signedBy: string | undefined;
    if (rest.startsWith('[')) {
      const end = rest.indexOf(']');
      const opts = rest.slice(1, end);
      const m = /signed-by=(\S+)/.exec(opts);
      if (m) signedBy = m[1];
      rest = rest.slice(end + 1).trim();
    }
    const [uri, suite, ...components] = rest.split(/\s+/);
    if (!uri || !suite) continue;
    out.push({ uris: [uri], suites: [suite], components, ...(signedBy ? { signedBy } : {}) });
  }
  return out;
}

/**
 * Encodes the private deb822 sources file: every machine source with `Types: deb deb-src`
 * (binary and source indexes), stanzas in the given order.
 */
export function encodePrivateSources(sources: AptSource[]): string {
  return sources
    .map((s) =>
      [
        'Types: deb deb-src',
        `URIs: ${s.uris.join(' ')}`,
        `Suites: ${s.suites.join(' ')}`,
        `Components: ${s.components.join(' ')}`,
        ...(s.signedBy ? [`Signed-By: ${s.signedBy}`] : []),
      ].join('\n'),
    )
    .join('\n\n')
    .concat('\n');
}
