/**
 * A private apt state: its own sources file (written at run time from the machine's apt
 * configuration), lists, cache and an empty dpkg status, so that apt resolves full dependency
 * closures and downloads `.deb` and source files without reading or changing the host's apt
 * state. The host's lists are never touched.
 *
 * @see specs/seed.md §2
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { IoError, SeedError } from '../../src/kernel/index.ts';
import { runProc, type ProcResult } from '../proc.ts';
import {
  encodePrivateSources,
  parseDeb822Sources,
  parseOneLineSources,
  type AptSource,
} from './apt-sources.ts';

/** A package resolved to an exact version. */
export interface ResolvedPackage {
  name: string;
  version: string;
  arch: string;
}

/** Reads the machine's apt sources (`/etc/apt/sources.list` and `sources.list.d/*.sources|*.list`). */
export function readHostAptSources(etc = '/etc/apt'): AptSource[] {
  const out: AptSource[] = [];
  const list = join(etc, 'sources.list');
  if (existsSync(list)) out.push(...parseOneLineSources(readFileSync(list, 'utf8')));
  const d = join(etc, 'sources.list.d');
  if (existsSync(d))
    for (const f of readdirSync(d).sort()) {
      if (f.endsWith('.sources')) out.push(...parseDeb822Sources(readFileSync(join(d, f), 'utf8')));
      else if (f.endsWith('.list')) out.push(...parseOneLineSources(readFileSync(join(d, f), 'utf8')));
    }
  return out;
}

/** apt with a private state directory (see the module comment). */
export class PrivateApt {
  /** @param dir the private state directory (created as needed); reused across runs */
  constructor(readonly dir: string) {}

  /**
   * Runs apt under an exclusive flock(2) on `<dir>/lock` (util-linux `flock`): apt runs with
   * `Debug::NoLocking`, and several processes (parallel test files, a demo) may share one state
   * directory. The kernel drops the lock when the process dies, SIGKILL included.
   */
  private async run(
    cmd: string,
    args: string[],
    opts: { cwd?: string; allowFail?: boolean } = {},
  ): Promise<ProcResult> {
    await fs.mkdir(this.dir, { recursive: true });
    const r = await runProc('flock', [join(this.dir, 'lock'), cmd, ...args], { ...opts, allowFail: true });
    if (r.code !== 0 && !opts.allowFail) {
      const tail = r.stderr.trim().split('\n').slice(-3).join(' | ');
      throw new IoError(`${cmd} ${args.slice(0, 4).join(' ')}…: exit ${r.code}: ${tail}`, {
        data: { cmd, code: r.code },
      });
    }
    return r;
  }

  /** The `-o` options that point apt at the private state. */
  options(): string[] {
    const d = this.dir;
    return [
      `-o=Dir::Etc::sourcelist=${join(d, 'sources.list')}`,
      `-o=Dir::Etc::sourceparts=${join(d, 'sources.list.d')}`,
      `-o=Dir::State=${join(d, 'state')}`,
      `-o=Dir::State::Lists=${join(d, 'lists')}`,
      `-o=Dir::State::status=/dev/null`,
      `-o=Dir::Cache=${join(d, 'cache')}`,
      `-o=Debug::NoLocking=1`,
      `-o=APT::Sandbox::User=root`,
      `-o=Acquire::Retries=3`,
    ];
  }

  /** Writes the private sources file from the machine's configuration and creates the directories. */
  async prepare(): Promise<void> {
    const sources = readHostAptSources();
    if (sources.length === 0)
      throw new SeedError('no apt sources are configured on this machine (/etc/apt/sources.list[.d])', {
        hint: 'the debian seed mode reads the archive URIs from the machine; use --mode host offline',
      });
    for (const sub of ['sources.list.d', 'state', 'lists/partial', 'cache/archives/partial'])
      await fs.mkdir(join(this.dir, sub), { recursive: true });
    await fs.writeFile(join(this.dir, 'sources.list'), '');
    const text = encodePrivateSources(sources);
    const p = join(this.dir, 'sources.list.d', 'eos.sources');
    const old = existsSync(p) ? readFileSync(p, 'utf8') : '';
    if (old !== text) {
      await fs.writeFile(p + '.tmp', text);
      await fs.rename(p + '.tmp', p);
      await fs.rm(join(this.dir, 'updated'), { force: true });
    }
  }

  /** Runs `apt-get update` on the private lists when they are older than `maxAgeMs` (or forced). */
  async update(maxAgeMs = 6 * 3600_000, force = false): Promise<boolean> {
    await this.prepare();
    const stamp = join(this.dir, 'updated');
    if (!force && existsSync(stamp) && Date.now() - (await fs.stat(stamp)).mtimeMs < maxAgeMs) return false;
    await this.run('apt-get', [...this.options(), '-qq', 'update']);
    await fs.writeFile(stamp, new Date().toISOString() + '\n');
    return true;
  }

  /** Resolves the full closure of `roots` (no recommends) to exact versions, sorted by name. */
  async resolve(roots: string[]): Promise<ResolvedPackage[]> {
    const r = await this.run('apt-get', [
      ...this.options(),
      '-qq',
      '--print-uris',
      '--no-install-recommends',
      '-o=APT::Get::Download-Only=1',
      'install',
      ...roots,
    ]);
    const out: ResolvedPackage[] = [];
    for (const line of r.stdout.split('\n')) {
      const m = /^'[^']+' (\S+)_(\S+)_(\S+)\.deb \d+ /.exec(line);
      if (m) out.push({ name: m[1]!, version: decodeURIComponent(m[2]!), arch: m[3]! });
    }
    if (out.length === 0) throw new SeedError(`apt resolved nothing for ${roots.join(' ')}`);
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /**
   * The packages of `pkgs` that the current (private) index still lists, with each `.deb`'s
   * sha256 from the signed Packages index, keyed `name=version`; a version that has left the
   * archive is simply absent (apt-cache prints the others).
   * @throws IoError E12 when apt-cache cannot run
   */
  async indexed(pkgs: ResolvedPackage[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (pkgs.length === 0) return out;
    const r = await this.run(
      'apt-cache',
      [...this.options(), 'show', ...pkgs.map((p) => `${p.name}:${p.arch}=${p.version}`)],
      { allowFail: true },
    );
    for (const stanza of r.stdout.split(/\n\n+/)) {
      const name = /^Package: (\S+)$/m.exec(stanza)?.[1];
      const version = /^Version: (\S+)$/m.exec(stanza)?.[1];
      const sha = /^SHA256: ([0-9a-f]{64})$/m.exec(stanza)?.[1];
      const key = `${name}=${version}`;
      if (name && version && sha && !out.has(key)) out.set(key, sha);
    }
    if (out.size === 0 && r.code !== 0 && !/not found|No packages found/i.test(r.stderr))
      throw new IoError(
        `apt-cache show: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
      );
    return out;
  }

  /** The sha256 of each package's `.deb` from the signed Packages index (`apt-cache show`). */
  async sha256s(pkgs: ResolvedPackage[]): Promise<Map<string, string>> {
    const out = await this.indexed(pkgs);
    for (const p of pkgs)
      if (!out.has(`${p.name}=${p.version}`))
        throw new SeedError(
          `${p.name} ${p.version}: not in the current index (it may have left the archive)`,
          {
            hint: 'run `eos seed update` to re-pin the seed from the current index',
          },
        );
    return out;
  }

  /** Downloads exact `.deb`s into `dir` (apt checks each against the signed index); returns file paths by `name=version`. */
  async download(pkgs: ResolvedPackage[], dir: string): Promise<Map<string, string>> {
    await fs.mkdir(dir, { recursive: true });
    await this.run(
      'apt-get',
      [...this.options(), '-qq', 'download', ...pkgs.map((p) => `${p.name}:${p.arch}=${p.version}`)],
      {
        cwd: dir,
      },
    );
    const out = new Map<string, string>();
    for (const f of await fs.readdir(dir)) {
      const m = /^(\S+?)_(\S+)_(\S+)\.deb$/.exec(f);
      if (m) out.set(`${m[1]}=${decodeURIComponent(m[2]!)}`, join(dir, f));
    }
    for (const p of pkgs)
      if (!out.has(`${p.name}=${p.version}`))
        throw new SeedError(`${p.name} ${p.version}: apt downloaded no .deb`);
    return out;
  }

  /**
   * Downloads a source package's files (`apt-get source --download-only`) into `dir` and returns
   * the paths of its `*.orig.tar.*` files. apt checks them against the signed Sources index.
   * Only the orig tarballs are used, so a failure to fetch the other files (the archive has been
   * seen to 404 on a security update's `.dsc` and `debian.tar.xz` while serving its orig tarball)
   * is tolerated when an orig tarball arrived: apt moves a file into `dir` only once its hash
   * matched the index, and the caller checks the pinned digest.
   * @throws IoError E12 when apt fails and no orig tarball arrived
   */
  async sourceDownload(pkg: string, version: string, dir: string): Promise<string[]> {
    await fs.mkdir(dir, { recursive: true });
    const origs = async (): Promise<string[]> =>
      (await fs.readdir(dir))
        .filter((f) => /\.orig\.tar\.[a-z0-9]+$/.test(f))
        .sort()
        .map((f) => join(dir, f));
    try {
      await this.run(
        'apt-get',
        [...this.options(), '-qq', 'source', '--download-only', `${pkg}=${version}`],
        {
          cwd: dir,
        },
      );
    } catch (e) {
      if ((await origs()).length === 0) throw e;
    }
    return origs();
  }
}
