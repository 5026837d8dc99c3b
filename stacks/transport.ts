/**
 * Transports (I/O): how the deploying machine reaches a host's `eos host serve`. Both kinds give
 * the same byte stream pair, so every deploy runs the same protocol code:
 * - `local` (`local:/path`, `file:///path` or a plain absolute path): `eos host serve` as a child
 *   process on this machine;
 * - `ssh` (`ssh://user@host[:port][/host/root]`): OpenSSH's client with `StrictHostKeyChecking=yes`
 *   and `BatchMode=yes` (there is no accept-any mode), the known hosts from `--known-hosts` only
 *   when given, running `eos host serve` on the far side over one connection.
 *
 * @see specs/host.md §10 (transports)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { TransportError, UsageError } from '../src/kernel/index.ts';
import { DEFAULT_HOST_ROOT } from './evaluate.ts';
import { FrameReader, FrameWriter } from './wire.ts';

/** An open session: framed streams to a host's serve process. */
export interface Session {
  reader: FrameReader;
  writer: FrameWriter;
  /** Closes the session and waits for the serve process to end. */
  close(): Promise<void>;
  /** The serve process's (or ssh's) stderr so far. */
  stderr(): string;
  /** Its exit status once it ended (255: ssh itself failed), else null. */
  exitCode(): number | null;
}

/** A way to reach a host. */
export interface Transport {
  kind: 'local' | 'ssh';
  /** The target as given (for messages). */
  url: string;
  /** The host root on the far side. */
  hostRoot: string;
  open(): Promise<Session>;
}

/** Options for building a transport. */
export interface TransportOptions {
  /** argv prefix that runs `eos` on this machine (local transport). */
  eosCommand: string[];
  /** The command that runs `eos` on the far side (ssh; default `eos`), split on spaces. */
  remoteEos?: string;
  /** A known_hosts file: the only one ssh consults when given. */
  knownHosts?: string;
  /** An ssh identity (private key) file. */
  identity?: string;
}

function sessionOf(child: ChildProcess, peer: string): Session {
  let err = '';
  let status: number | null = null;
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) =>
    child.on('exit', (code) => {
      status = code;
      r(code);
    }),
  );
  const reader = new FrameReader(child.stdout!, peer);
  const writer = new FrameWriter(child.stdin!);
  child.stdin!.on('error', () => undefined);
  return {
    reader,
    writer,
    stderr: () => err,
    exitCode: () => status,
    close: async () => {
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGTERM'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

const shellQuote = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * Builds the transport a target URL names.
 * @throws UsageError E1 for a target that is neither a local path nor `ssh://`
 */
export function openTransport(target: string, opts: TransportOptions): Transport {
  if (target.startsWith('ssh://')) {
    const u = new URL(target);
    if (!u.hostname) throw new UsageError(`--target ${target}: no host name`);
    const hostRoot = u.pathname && u.pathname !== '/' ? decodeURIComponent(u.pathname) : DEFAULT_HOST_ROOT;
    const dest = `${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.hostname.replace(/^\[|\]$/g, '')}`;
    const args = [
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'ServerAliveInterval=5',
      '-o',
      'ServerAliveCountMax=3',
      '-o',
      'LogLevel=ERROR',
    ];
    if (opts.knownHosts)
      args.push(
        '-o',
        `UserKnownHostsFile=${resolve(opts.knownHosts)}`,
        '-o',
        'GlobalKnownHostsFile=/dev/null',
      );
    if (opts.identity) args.push('-i', resolve(opts.identity), '-o', 'IdentitiesOnly=yes');
    if (u.port) args.push('-p', u.port);
    const remote = [
      ...(opts.remoteEos ?? 'eos').split(' ').filter(Boolean),
      'host',
      'serve',
      '--root',
      hostRoot,
    ];
    return {
      kind: 'ssh',
      url: target,
      hostRoot,
      open: async () => {
        const child = spawn('ssh', [...args, dest, '--', remote.map(shellQuote).join(' ')], {
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        const s = sessionOf(child, target);
        // ssh's own failures (host key, authentication) arrive as exit 255 before any frame.
        child.on('exit', (code) => {
          if (code === 255)
            s.reader.fail(
              new TransportError(`${target}: ssh: ${s.stderr().trim() || 'exit 255'}`, {
                data: { reason: 'ssh', stderr: s.stderr() },
                hint: 'check the host key in --known-hosts (ssh-keyscan it on a trusted path) and your identity',
              }),
            );
        });
        return s;
      },
    };
  }
  let path = target;
  if (target.startsWith('local:')) path = target.slice(6);
  else if (target.startsWith('file://')) path = decodeURIComponent(new URL(target).pathname);
  if (!path.startsWith('/'))
    throw new UsageError(`--target ${target}: expected an absolute path, local:/path or ssh://user@host`);
  const hostRoot = resolve(path);
  return {
    kind: 'local',
    url: target,
    hostRoot,
    open: async () => {
      const child = spawn(
        opts.eosCommand[0]!,
        [...opts.eosCommand.slice(1), 'host', 'serve', '--root', hostRoot],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      return sessionOf(child, `local host ${hostRoot}`);
    },
  };
}
