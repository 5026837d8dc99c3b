/**
 * `eos host serve --root DIR`: the host side of the deploy protocol on stdin/stdout (run by the
 * local transport as a child, by the SSH transport on the far side). Prints nothing else.
 * @see specs/host.md §6
 */
import { Host, serveHost } from '../../stacks/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';
import { eosCommand, hostRootArg } from './stacks-args.ts';

/** Options of `eos host serve`. */
export interface HostServeOptions extends GlobalOptions {
  root?: string;
}

/** Runs `eos host serve` until the client closes the session. */
export async function run(opts: HostServeOptions): Promise<CommandResult> {
  await serveHost(new Host(hostRootArg(opts.root)), process.stdin, process.stdout, {
    eosCommand: eosCommand(),
  });
  return {};
}
