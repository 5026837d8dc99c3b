/**
 * systemd unit files, pure: one `.service` per service, run with its world (its composition plus
 * its config files, a composefs image) mounted by one `.mount` unit per world as `/`.
 *
 * @see specs/stack.md §6 (units)
 */
import { digestHex, type Digest } from '../src/kernel/index.ts';

/** A service as the renderer needs it. */
export interface UnitService {
  name: string;
  stack: string;
  world: Digest;
  exec: string;
  args: string[];
  env: Record<string, string>;
  dependsOn: string[];
  restart: string;
}

/**
 * systemd's path escaping (`systemd-escape --path`): strip slashes at both ends, `/` → `-`, keep
 * ASCII letters, digits, `:`, `_` and `.` (except a leading `.`), everything else `\xNN`.
 */
export function systemdEscapePath(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, '').replace(/\/+/g, '/');
  if (trimmed === '') return '-';
  let out = '';
  const bytes = Buffer.from(trimmed, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const c = String.fromCharCode(bytes[i]!);
    if (c === '/') out += '-';
    else if (/[A-Za-z0-9:_]/.test(c) || (c === '.' && i > 0)) out += c;
    else out += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** Where a world is mounted on a host: `<hostRoot>/mnt/<root hex>`. @see specs/host.md §2 */
export function worldMountPoint(hostRoot: string, world: Digest): string {
  return `${hostRoot.replace(/\/+$/, '')}/mnt/${digestHex(world)}`;
}

/** The composefs image of a world in the host store: `<hostRoot>/store/images/<root hex>.cfs`. */
export function worldImagePath(hostRoot: string, world: Digest): string {
  return `${hostRoot.replace(/\/+$/, '')}/store/images/${digestHex(world)}.cfs`;
}

/** The mount unit's file name for a world. */
export function mountUnitName(hostRoot: string, world: Digest): string {
  return `${systemdEscapePath(worldMountPoint(hostRoot, world))}.mount`;
}

/** systemd's quoting of one ExecStart/Environment word: double quotes, `\\`, `\"`, `$$`, `%%`. */
function quote(s: string): string {
  const needs = s === '' || /[\s"'\\$%;]/.test(s);
  const esc = s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '$$$$').replace(/%/g, '%%');
  return needs ? `"${esc}"` : esc;
}

/**
 * Renders a world's mount unit: the composefs image, its object directory as `basedir`.
 * @see specs/stack.md §6.2
 */
export function renderMountUnit(hostRoot: string, world: Digest): string {
  const root = hostRoot.replace(/\/+$/, '');
  return [
    '[Unit]',
    `Description=Eos world ${world}`,
    '',
    '[Mount]',
    `What=${worldImagePath(root, world)}`,
    `Where=${worldMountPoint(root, world)}`,
    'Type=composefs',
    `Options=ro,basedir=${root}/store/objects`,
    '',
  ].join('\n');
}

/**
 * Renders a service unit: ExecStart inside its world (`RootDirectory=` the world's mount point,
 * required through `RequiresMountsFor=`), dependencies as `After=`/`Requires=`.
 * @see specs/stack.md §6.1
 */
export function renderServiceUnit(hostRoot: string, s: UnitService): string {
  const deps = [...s.dependsOn].sort().map((d) => `${d}.service`);
  const mnt = worldMountPoint(hostRoot, s.world);
  const lines = ['[Unit]', `Description=Eos stack ${s.stack}: ${s.name}`];
  if (deps.length) lines.push(`After=${deps.join(' ')}`, `Requires=${deps.join(' ')}`);
  lines.push(`RequiresMountsFor=${mnt}`, '', '[Service]', 'Type=simple', `RootDirectory=${mnt}`);
  lines.push(`ExecStart=${[s.exec, ...s.args].map(quote).join(' ')}`, `Restart=${s.restart}`);
  for (const k of Object.keys(s.env).sort()) lines.push(`Environment=${quote(`${k}=${s.env[k]}`)}`);
  lines.push('', '[Install]', 'WantedBy=multi-user.target', '');
  return lines.join('\n');
}
