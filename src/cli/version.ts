/**
 * The version `eos --version` prints. A module of its own so that `bin/eos.mjs` can answer
 * `--version` without loading commander or any command.
 * @see specs/cli.md §1
 */
export const VERSION = '0.1.0';
