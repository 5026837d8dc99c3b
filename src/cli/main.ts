/**
 * The `eos` command line: registers every command (each lazily loaded from `src/cli/<verb>.ts`),
 * prints what they return, and is the only place that catches errors. An `EosError` prints its
 * `[E<n>]` message and hint and exits with its exit code; anything else is a bug and prints a
 * stack and a bug note. `EOS_DEBUG=1` prints stacks for every error.
 *
 * Exit statuses: 0 ok, 1 a located `[E#]` error, 2 bad usage, 3 some build actions failed.
 * @see specs/errors.md
 */
import { Command, CommanderError } from 'commander';
import { EosError } from '../errors.ts';
import { storeDir } from '../config.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

type Loader = () => Promise<{ run: (opts: never) => Promise<CommandResult> }>;

/** Builds the options object a command's `run` receives: its own args/options plus the globals. */
function globals(cmd: Command): GlobalOptions {
  const g = cmd.optsWithGlobals() as { store?: string; json?: boolean };
  return { store: storeDir(g.store), json: Boolean(g.json) };
}

let pending: Promise<CommandResult> | undefined;

/**
 * Makes a commander action that lazily imports a command module and calls its `run` with
 * `{...globals, ...options, [names[i]]: positional[i]}`; `main` awaits and prints the result.
 * @param loader e.g. `() => import('./store-add.ts')`
 * @param names the option names given to the positional arguments, in order
 */
function action(loader: Loader, names: string[] = []) {
  return function (...argv: unknown[]): void {
    const cmd = argv[argv.length - 1] as Command;
    const positional = argv.slice(0, cmd.registeredArguments.length);
    const named = Object.fromEntries(names.map((n, i) => [n, positional[i]]));
    const opts = { ...globals(cmd), ...cmd.opts(), ...named };
    pending = loader().then((m) => m.run(opts as never));
  };
}

/** The command tree. Exported for tests of the argument mapping. */
export function buildProgram(): Command {
  const program = new Command('eos')
    .description('Eos: a composition-addressed builder')
    .version('0.1.0')
    .option('--store <dir>', 'store directory (default: $EOS_STORE or ~/.local/share/eos/store)')
    .option('--json', 'print machine-readable JSON')
    .showHelpAfterError()
    .exitOverride();

  registerCommands(program, action);
  return program;
}

/** The signature of `action`, for the registration function below. */
export type ActionFactory = typeof action;

/**
 * Declares every command. One block per command group; each command names its module.
 */
function registerCommands(program: Command, act: ActionFactory): void {
  // Each subsystem adds its block here.
  registerStore(program, act);
  registerKeys(program, act);
  registerInterfacePython(program, act);
}

/** `eos interface --python PATH`: the Python interface manifest of an import root (specs/interface-python.md). */
function registerInterfacePython(program: Command, act: ActionFactory): void {
  program
    .command('interface')
    .description("a Python import root's interface: distributions, RECORD check, modules, imports")
    .argument('[path]', 'an import root (site-packages, dist-packages)')
    .option('--python', 'read PATH as a Python import root (the only mode until the ELF extractor lands)')
    .action(act(() => import('./interface-python.ts'), ['path']));
}

/** `eos store …`: the content-addressed store (specs/store.md). */
function registerStore(program: Command, act: ActionFactory): void {
  const store = program.command('store').description('the content-addressed store (specs/store.md)');
  store
    .command('add <path>')
    .description('ingest a directory (prints its tree digest) or a file (prints its blob digest)')
    .option('--root <name>', 'also pin the result as gc root NAME')
    .action(act(() => import('./store-add.ts'), ['path']));
  store
    .command('cat <digest>')
    .description("print a blob's bytes, or a tree's canonical JSON")
    .action(act(() => import('./store-cat.ts'), ['digest']));
  store
    .command('ls <digest>')
    .description("list a tree's entries like ls -l: mode, size, digest, name")
    .action(act(() => import('./store-ls.ts'), ['digest']));
  store
    .command('export <digest> <dir>')
    .description('materialize a tree into DIR (hard links into the store where possible)')
    .option('--copy', 'copy files (writable) instead of hard-linking read-only objects')
    .action(act(() => import('./store-export.ts'), ['digest', 'dir']));
  store
    .command('verify')
    .description('re-hash every object; exit 1 when any is corrupt')
    .option('--repair', 'delete corrupt objects so a later ingest restores them')
    .action(act(() => import('./store-verify.ts')));
  store
    .command('gc')
    .description('delete objects no root reaches')
    .option('--grace <seconds>', 'keep unreachable objects younger than this (default 3600)')
    .action(act(() => import('./store-gc.ts')));
  store
    .command('stats')
    .description('counts, sizes and bytes saved by deduplication')
    .action(act(() => import('./store-stats.ts')));
  const root = store.command('root').description('gc roots (roots/NAME holds a digest)');
  const rootOp = (op: 'add' | 'rm' | 'ls') => () =>
    import('./store-root.ts').then((m) => ({
      run: (o: object) => m.run(Object.assign({}, o, { op }) as never),
    }));
  root
    .command('add <name> <digest>')
    .description('pin DIGEST as NAME')
    .action(act(rootOp('add'), ['name', 'digest']));
  root
    .command('rm <name>')
    .description('remove root NAME')
    .action(act(rootOp('rm'), ['name']));
  root
    .command('ls')
    .description('list roots')
    .action(act(rootOp('ls')));
}

/** `eos key …`, `eos sign`, `eos verify-signature`: keys and signatures (specs/signatures.md). */
function registerKeys(program: Command, act: ActionFactory): void {
  // Keys and signatures (specs/signatures.md). Keys live in the config directory ($EOS_CONFIG_DIR).
  const purposes = 'atoms, builds, compositions or deploy';
  const key = program.command('key').description('signing keys, the keyring and the trust policy');
  key
    .command('generate <name>')
    .description('make an ed25519 key pair NAME (secret key file mode 0600); prints NAME and key id')
    .action(act(() => import('./key-generate.ts'), ['name']));
  key
    .command('list')
    .description('list keys: name, key id, secret|public|missing, purposes trusted for')
    .action(act(() => import('./key-list.ts')));
  key
    .command('export <name>')
    .description('print the public key text of NAME (read by `eos key import`)')
    .action(act(() => import('./key-export.ts'), ['name']));
  key
    .command('import <file>')
    .description('add a public key text from FILE (or - for stdin) to the keyring')
    .option('--name <name>', 'local name (default: the name in the text)')
    .action(act(() => import('./key-import.ts'), ['file']));
  key
    .command('trust <key>')
    .description('trust a key (key id or name) for purposes')
    .requiredOption('--for <purposes>', `comma-separated: ${purposes}`)
    .action(act(() => import('./key-trust.ts'), ['key']));
  key
    .command('untrust <key>')
    .description('stop trusting a key (key id or name) for purposes')
    .requiredOption('--for <purposes>', `comma-separated: ${purposes}`)
    .action(act(() => import('./key-untrust.ts'), ['key']));
  program
    .command('sign <digest>')
    .description('sign DIGEST for a purpose; prints the detached signature (canonical JSON)')
    .requiredOption('--key <name>', 'the secret key to sign with')
    .requiredOption('--for <purpose>', `one of ${purposes}`)
    .action(act(() => import('./sign.ts'), ['digest']));
  program
    .command('verify-signature <digest> <file>')
    .description(
      'check that the signature in FILE (or - for stdin) signs DIGEST by a key trusted for the purpose',
    )
    .requiredOption('--for <purpose>', `one of ${purposes}`)
    .action(act(() => import('./verify-signature.ts'), ['digest', 'file']));
}

function print(result: CommandResult, json: boolean): void {
  if (result.raw) process.stdout.write(result.raw);
  if (json && result.json !== undefined) process.stdout.write(JSON.stringify(result.json, null, 2) + '\n');
  else if (result.lines?.length) process.stdout.write(result.lines.join('\n') + '\n');
  for (const n of result.notes ?? []) process.stderr.write(n + '\n');
}

/** Runs the CLI on `argv` (as `process.argv`) and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const debug = process.env.EOS_DEBUG === '1';
  const json = argv.includes('--json');
  try {
    pending = undefined;
    await program.parseAsync(argv);
    const started = pending as Promise<CommandResult> | undefined;
    if (!started) return 0;
    const result = await started;
    print(result, json);
    return result.exitCode ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return 0;
      return 2;
    }
    if (e instanceof EosError) {
      if (json) process.stdout.write(JSON.stringify({ error: e.toJSON() }) + '\n');
      process.stderr.write(`eos: ${e.message}\n`);
      if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
      if (debug) process.stderr.write(`${e.stack}\n`);
      return e.exitCode;
    }
    const err = e as NodeJS.ErrnoException;
    if (!debug && err && typeof err.code === 'string' && typeof err.syscall === 'string') {
      // An operating-system error that escaped the subsystems: still one clear line.
      process.stderr.write(`eos: [E12] ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`eos: internal error (a bug in Eos; please report it with this output)\n`);
    process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    return 70;
  }
}
