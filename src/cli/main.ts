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
import { EosError, UsageError } from '../kernel/errors.ts';
import { storeDir } from '../kernel/config.ts';
import type { CommandResult, GlobalOptions } from './result.ts';
import { VERSION } from './version.ts';

type Loader = () => Promise<{ run: (opts: never) => Promise<CommandResult> }>;

/** Builds the options object a command's `run` receives: its own args/options plus the globals. */
function globals(cmd: Command): GlobalOptions {
  const g = cmd.optsWithGlobals() as { store?: string; json?: boolean };
  return {
    store: storeDir(g.store),
    json: Boolean(g.json),
    emit: (line: string) => void process.stdout.write(line + '\n'),
  };
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
    .version(VERSION)
    .option('--store <dir>', 'store directory (default: $EOS_STORE or ~/.local/share/eos/store)')
    .option('--json', 'print machine-readable JSON')
    .showHelpAfterError()
    // Usage errors are printed by main() as `[E1] …` (and a JSON error under --json), not by commander.
    .configureOutput({ outputError: () => {} })
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
  registerAtoms(program, act);
  registerCompose(program, act);
  registerImage(program, act);
  registerInterface(program, act);
  registerExecutor(program, act);
  registerScheduler(program, act);
  registerStacks(program, act);
  registerCache(program, act);
}

/** `eos cache push`: binary caches (specs/cache.md). */
function registerCache(program: Command, act: ActionFactory): void {
  const cache = program
    .command('cache')
    .description('binary caches: push signed build records and their outputs');
  cache
    .command('push <url> [actions...]')
    .description(
      'upload action-cache entries (default: every one in the store) and the objects of their outputs the cache lacks',
    )
    .action(act(() => import('./cache-push.ts'), ['url', 'actions']));
}

/** `eos stack check`, `eos deploy`, `eos rollback`, `eos host …`: stacks and hosts (specs/stack.md, specs/host.md). */
function registerStacks(program: Command, act: ActionFactory): void {
  const target = (c: Command) =>
    c
      .option(
        '--target <url>',
        'the host: local:/path, /path or ssh://user@host[:port][/host/root] (default local:$EOS_HOST_ROOT or /var/lib/eos)',
      )
      .option(
        '--known-hosts <file>',
        'ssh: the known_hosts file (the only one consulted); host keys are always checked',
      )
      .option('--identity <file>', 'ssh: the private key to log in with')
      .option('--remote-eos <cmd>', 'ssh: the command that runs eos on the host (default eos)');
  const stack = program.command('stack').description('stack files: compositions, services and config files');
  target(
    stack
      .command('check <file>')
      .description(
        'evaluate a stack against the local store (compositions, executables, units); push nothing',
      ),
  ).action(act(() => import('./stack-check.ts'), ['file']));
  target(
    program
      .command('deploy [file]')
      .description('sign a stack as a deployment and push it to a host as a new generation')
      .option('--key <name>', 'the secret key that signs the deployment (purpose deploy)')
      .option('--dry-run', 'ask the host what it lacks and what would restart; change nothing')
      .option('--sequence <n>', "the deployment's sequence number (default: the channel's last + 1)")
      .option('--ttl <seconds>', 'seconds until the deployment expires (default 7 days)')
      .option('--signed <file>', 'push this saved signed deployment as it is'),
  ).action(act(() => import('./deploy.ts'), ['file']));
  target(
    program
      .command('rollback')
      .description("flip a host's current generation back (to the one before, or --to N) and activate it")
      .option('--to <n>', 'the generation to roll back to'),
  ).action(act(() => import('./rollback.ts')));
  const host = program.command('host').description('a host root: generations, rollback, gc, verify');
  const root = (c: Command) =>
    c.option('--root <dir>', 'the host root (default $EOS_HOST_ROOT or /var/lib/eos)');
  target(
    root(host.command('generations').description('list the generations; * marks the current one')),
  ).action(act(() => import('./host-generations.ts')));
  root(
    host
      .command('rollback')
      .description('flip current to generation N (default: the one before) in one rename, then activate')
      .option('--to <n>', 'the generation')
      .option('--no-activate', 'only flip; start and stop nothing'),
  ).action(act(() => import('./host-rollback.ts')));
  root(
    host
      .command('gc')
      .description('drop generations beyond the last N and the objects only they reach')
      .option('--keep <n>', 'generations to keep besides current, pending and pinned ones (default 5)')
      .option('--grace <seconds>', 'keep unreachable objects younger than this (default 3600)'),
  ).action(act(() => import('./host-gc.ts')));
  root(
    host.command('verify').description('re-hash every object of every generation (exit 3 on a problem)'),
  ).action(act(() => import('./host-verify.ts')));
  const pinOp = (op: 'pin' | 'unpin') => () =>
    import('./host-pin.ts').then((m) => ({
      run: (o: object) => m.run(Object.assign({}, o, { op }) as never),
    }));
  root(host.command('pin <generation>').description('keep a generation through gc')).action(
    act(pinOp('pin'), ['generation']),
  );
  root(host.command('unpin <generation>').description('remove a pin')).action(
    act(pinOp('unpin'), ['generation']),
  );
  root(
    host.command('serve').description('serve the deploy protocol on stdin/stdout (run by transports)'),
  ).action(act(() => import('./host-serve.ts')));
  root(
    host
      .command('activate')
      .description('the detached activator of a generation (run by serve and rollback)')
      .requiredOption('--generation <n>', 'the generation'),
  ).action(act(() => import('./host-activate.ts')));
  root(
    host
      .command('supervise <service>')
      .description('supervise one process-backend service (run by activation)')
      .requiredOption('--generation <n>', 'the generation'),
  ).action(act(() => import('./host-supervise.ts'), ['service']));
}

/** `eos build`: the scheduler over a lock (specs/scheduler.md §10). */
function registerScheduler(program: Command, act: ActionFactory): void {
  const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
  program
    .command('build [lock]')
    .description('build every atom of a lock (default ./eos.lock): parallel, cached, keep-going')
    .option('--seed-lock <file>', 'the seed lock (default: seed.lock beside the lock)')
    .option('-j, --jobs <n>', 'actions at once (default: the number of cores)')
    .option('--only <labels>', 'build only these labels (comma-separated) and their dependencies')
    .option('--dry-run', 'print each action id and whether it is cached; build nothing')
    .option('--check', 'rebuild cached actions and report any whose output differs')
    .option('--apt-dir <dir>', 'private apt state directory (debian sources)')
    .option('--sign-key <name>', 'sign build records with this key (purpose builds)')
    .option('--timeout <seconds>', 'time limit of each action')
    .option('--max-pids <n>', 'process limit of each action (default 4096; a cgroup, else prlimit)')
    .option(
      '--max-memory <size>',
      'memory limit of each action, e.g. 2G (default 3/4 of the memory, at most 32G)',
    )
    .option(
      '--compose <file>',
      'store the runtime composition of the built closure (signed with --sign-key) and write its TOML to FILE',
    )
    .option(
      '--observe',
      'serve each world over FUSE and record what the build reads (read sets, prune hints)',
    )
    .option(
      '--substituters <urls>',
      'binary caches to ask before building (comma-separated; replaces cache.toml\'s list; "" for none)',
    )
    .option('--require-cache', 'fail an action no cache can substitute instead of building it')
    .option(
      '--fetch-env <key=value>',
      "an environment variable for every [fetch] replay, e.g. npm's registry (repeatable)",
      collect,
    )
    .action(act(() => import('./build.ts'), ['lock']));
  program
    .command('why <atom> [path]')
    .description('what an observed build of ATOM used of its world; with PATH, which entry provided it')
    .action(act(() => import('./why.ts'), ['atom', 'path']));
}

function registerAtoms(program: Command, act: ActionFactory): void {
  // Atoms and locks (specs/atom.md, specs/lock.md). Signing keys come from the config directory.
  const atom = program
    .command('atom')
    .description('claim, publish, verify and list atoms in a git repository');
  atom
    .command('claim <label>')
    .description('bind LABEL to the owner key NAME in the repository (signed claim record)')
    .requiredOption('--key <name>', 'the secret key that will own the label')
    .option('--repo <path>', 'the repository (default: the one containing the current directory)')
    .action(act(() => import('./atom-claim.ts'), ['label']));
  atom
    .command('publish [path]')
    .description('publish the atom at PATH (default .) as of the current commit, signed by the claim key')
    .requiredOption('--key <name>', "the claim's secret key")
    .action(act(() => import('./atom-publish.ts'), ['path']));
  atom
    .command('verify [atom]')
    .description(
      'verify LABEL[@VERSION] (default: every published atom): signatures, claim, trust, content, source',
    )
    .option(
      '--repo <location>',
      'the repository: a path, file:// or http(s):// URL (default: the current one)',
    )
    .action(act(() => import('./atom-verify.ts'), ['atom']));
  atom
    .command('list')
    .description('list what a repository publishes: LABEL, VERSION, record digest, content digest')
    .option(
      '--repo <location>',
      'the repository: a path, file:// or http(s):// URL (default: the current one)',
    )
    .action(act(() => import('./atom-list.ts')));
  const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
  program
    .command('lock')
    .description("resolve the workspace's atom.toml files against atom sets and write eos.lock")
    .option('--dir <dir>', 'the workspace root (default: .)')
    .option(
      '--set <name=url>',
      'an atom set: a path, file:// or http(s):// URL (repeatable; default: the sets of eos.lock)',
      collect,
    )
    .option('--update <label>', 're-resolve LABEL newest-first (repeatable)', collect)
    .option('--prerelease', 'let prereleases satisfy every range')
    .option(
      '--check',
      'write nothing; exit 1 when eos.lock no longer matches the workspace or fails verification',
    )
    .action(act(() => import('./lock.ts')));
}

/** `eos image …`: composefs images (specs/composefs.md). */
function registerImage(program: Command, act: ActionFactory): void {
  program
    .command('image')
    .argument('[root]', 'a composition root: write its image (eos image ROOT -o FILE)')
    .description(
      'write the composefs image of a composition root, a dump or a directory, or print an image as a dump',
    )
    .option('--from-dump <dump>', 'composefs dump file (plain or .gz) to write as an image')
    .option(
      '--from-dir <dir>',
      'directory to write as an image (files redirect to objects by fs-verity digest)',
    )
    .option('--objects <dir>', 'with --from-dir: copy regular files into this objects directory')
    .option('--dump <image>', 'print this image as a composefs dump')
    .option('-o, --output <file>', 'image file to write')
    .option('--min-version <n>', 'lowest composefs format version (default 0)')
    .option('--max-version <n>', 'highest composefs format version (default 1)')
    .action(act(() => import('./image.ts'), ['root']));
}

/** `eos interface …`: interface extractors and the coverage check (specs/interface.md). */
function registerInterface(program: Command, act: ActionFactory): void {
  const iface = program
    .command('interface')
    .description(
      "a tree's interface: what its ELF files (and, with --python or in an import root, its Python files) provide and require",
    )
    .argument('[path]', 'a file or directory')
    .option(
      '--python',
      'read PATH as a Python import root (site-packages): distributions, RECORD, modules, imports',
    )
    .action(act(() => import('./interface.ts'), ['path']));
  iface
    .command('check')
    .description('does a new provider cover what consumers resolved against the old one (exit 3 if not)')
    .requiredOption('--old <path>', 'the old provider tree (file or directory)')
    .requiredOption('--new <path>', 'the new provider tree (file or directory)')
    .requiredOption('--consumers <paths>', 'consumer trees, comma-separated')
    .action(act(() => import('./interface-check.ts')));
  program
    .command('closure <root>')
    .description(
      'the runtime closure of roots in a composition: members with reasons, or the unsatisfied requirements (exit 3)',
    )
    .option('--roots <items>', 'comma-separated absolute paths in the view, or entry names')
    .action(act(() => import('./closure.ts'), ['root']));
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
  const purposes = 'atoms, builds, compositions, deploy or cache';
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

/** `eos compose …`, `eos mount`, `eos umount`, `eos run` (specs/composition.md). */
function registerCompose(program: Command, act: ActionFactory): void {
  const compose = program
    .command('compose')
    .description('compositions: store one from a TOML file (prints its root), show, diff, sign, verify')
    .argument('[file]', 'a composition TOML file')
    .action(act(() => import('./compose.ts'), ['file']));
  compose
    .command('show <root>')
    .description('the entries of a composition: name, prefix, node, constraint')
    .action(act(() => import('./compose-show.ts'), ['root']));
  compose
    .command('diff <a> <b>')
    .description('entries added/removed/changed, then the paths of the merged view that change')
    .action(act(() => import('./compose-diff.ts'), ['a', 'b']));
  compose
    .command('sign <root>')
    .description('sign a composition root with a secret key; the signature is kept beside it')
    .option('--key <name>', 'the secret key')
    .option('--for <purpose>', 'the purpose (default compositions)')
    .action(act(() => import('./compose-sign.ts'), ['root']));
  compose
    .command('verify <root>')
    .description(
      "check a composition's swap proofs (satisfies: re-proved; override: reported) and its signatures",
    )
    .option('--for <purpose>', 'the purpose (default compositions)')
    .option('--accept-overrides', 'exit 0 despite override constraints (they are still reported)')
    .action(act(() => import('./compose-verify.ts'), ['root']));
  program
    .command('mount <root> <dir>')
    .description("mount a composition's image read-only at DIR")
    .action(act(() => import('./mount.ts'), ['root', 'dir']));
  program
    .command('umount <dir>')
    .description('unmount a world mounted by eos mount')
    .action(act(() => import('./umount.ts'), ['dir']));
  program
    .command('run <root> [cmd...]')
    .description(
      'run CMD with the composition as / (eos run ROOT -- CMD ARGS...): unprivileged (a user namespace, non-root inside, no capabilities, no_new_privs, a seccomp filter) and without network',
    )
    .option('--cwd', 'bind the working directory at /work and start there')
    .option(
      '--network',
      "share the host's network (default: a fresh network namespace with no interfaces but lo)",
    )
    .action(act(() => import('./run.ts'), ['root', 'cmd']));
  program
    .command('swap <root> [assignment]')
    .description(
      "replace one entry's node (NAME=DIGEST|PATH, or NAME --atom LABEL@VERSION) with a proof that it covers the entry's consumers; prints the new root",
    )
    .option('--atom <label@version>', 'the cached output of a built atom (NAME defaults to its label)')
    .option('--sign-key <name>', 'sign the new composition (purpose compositions)')
    .option('--image <file>', "write the new composition's composefs image to FILE")
    .option('--force', 'write it even when the proof does not cover (an override constraint; needs --reason)')
    .option('--reason <text>', 'why the failed proof is overridden (recorded in the composition)')
    .action(act(() => import('./swap.ts'), ['root', 'assignment']));
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
    // BLAKE3 first, inside the handler: a missing native binding falls back to WebAssembly with
    // one warning, and no implementation at all is the named error E25, not a crash on import.
    const { hashBackend } = await import('../kernel/digest.ts');
    const hb = hashBackend();
    if (hb.name === 'wasm')
      process.stderr.write(
        `eos: warning: the native BLAKE3 binding is not available (${hb.reason}); hashing with ` +
          'WebAssembly, which is slower. Rebuild it: npm rebuild @c4312/blake3-native blake3 ' +
          '(bash scripts/setup.sh does this)\n',
      );
    pending = undefined;
    await program.parseAsync(argv);
    const started = pending as Promise<CommandResult> | undefined;
    if (!started) return 0;
    const result = await started;
    print(result, json);
    return result.exitCode ?? 0;
  } catch (caught) {
    let e = caught;
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return 0;
      // A usage error found by commander (unknown option, missing argument…): the same surface
      // as every other usage error.
      e = new UsageError(e.message.replace(/^error: /, ''), { data: { commander: e.code } });
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

/** `eos seed`, `eos seed update`, `eos build-atom`, `eos fetch`: the executor (specs/seed.md, specs/executor.md). */
function registerExecutor(program: Command, act: ActionFactory): void {
  const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

  // Executor: seeds and single-atom builds.
  program
    .command('seed [action] [file]')
    .description(
      'create or verify the seed toolchain (seed.lock; offline when its trees are stored); ' +
        '`seed update` re-pins it from the current index or dpkg database; ' +
        '`seed export FILE` / `seed import FILE` write / verify and load an archive of the lock and its .debs',
    )
    .option('--lock <file>', 'the seed lock file', 'seed.lock')
    .option('--mode <mode>', 'bootstrap mode: debian (archive .debs) or host (the host dpkg database)')
    .option('--apt-dir <dir>', 'private apt state directory (default <store>/cache/apt)')
    .option('--package <name>', 'a root package (repeatable; default: the standard toolchain)', collect)
    .option(
      '--repin-if-gone',
      'debian mode: when pinned .debs missing from the store have left the archive, re-pin from the current index (prints the version diff)',
    )
    .option(
      '--keep-debs',
      'debian mode: keep every pinned .deb in the store, downloading those it lacks (what `seed export` needs)',
    )
    .action(act(() => import('./seed.ts'), ['action', 'file']));
  program
    .command('build-atom <path>')
    .description('build one atom directory in the seed world with explicit dependency outputs')
    .option('--seed-lock <file>', 'the seed lock file', 'seed.lock')
    .option('--recipe <name>', 'std.autotools, std.make, std.cmake, std.meson, std.shell or std.binary')
    .option('--args <json>', 'recipe arguments as a JSON object, e.g. {"configure-flags":["--static"]}')
    .option('--source <json>', 'a fixed-output source as JSON (repeatable)', collect)
    .option('--dep <name=tree>', 'a dependency output tree (repeatable)', collect)
    .option('--label <label>', 'the atom label')
    .option('--atom-version <version>', 'the atom version')
    .option('--jobs <n>', 'parallel jobs (MAKEFLAGS=-jN)')
    .option('--timeout <seconds>', 'time limit of the build')
    .option('--apt-dir <dir>', 'private apt state directory')
    .option('--sign-key <name>', 'sign the build record with this key (purpose builds)')
    .option('--env <key=value>', 'an environment variable for the [fetch] replay (repeatable)', collect)
    .action(act(() => import('./build-atom.ts'), ['path']));
  program
    .command('fetch <path>')
    .description(
      "run an atom's [fetch] action with the network only through the recording proxy: " +
        '--record writes fetch.lock beside atom.toml, --replay serves only it (specs/fetch.md)',
    )
    .option('--record', 'pass requests through and write fetch.lock')
    .option('--replay', 'serve only what fetch.lock records; anything else fails (E53)')
    .option('--seed-lock <file>', 'the seed lock file', 'seed.lock')
    .option('--source <json>', 'a fixed-output source as JSON (repeatable)', collect)
    .option('--dep <name=tree>', 'a dependency output tree (repeatable)', collect)
    .option('--env <key=value>', 'an environment variable for the fetch script (repeatable)', collect)
    .option('--jobs <n>', 'parallel jobs (MAKEFLAGS=-jN)')
    .option('--timeout <seconds>', 'time limit of the fetch')
    .option('--apt-dir <dir>', 'private apt state directory')
    .action(act(() => import('./fetch.ts'), ['path']));
}
