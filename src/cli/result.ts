/**
 * What a command returns to `main.ts`, which alone prints: data lines for stdout, a JSON document
 * for `--json`, notes for stderr, and the exit status.
 */
export interface CommandResult {
  /** Plain-mode stdout lines (tab-separated where they are records). */
  lines?: string[];
  /** The `--json` document (versioned by the command), printed instead of `lines` when asked. */
  json?: unknown;
  /** Human notes for stderr (warnings, progress summaries). */
  notes?: string[];
  /** Exit status; 0 when absent. */
  exitCode?: number;
  /** Raw bytes for stdout (e.g. `eos store cat`); printed as they are, in both modes. */
  raw?: Uint8Array;
}

/** Options every command receives from the global flags. */
export interface GlobalOptions {
  /** The store directory (already resolved from `--store`, `$EOS_STORE` or the default). */
  store: string;
  /** `--json` was given. */
  json: boolean;
  /**
   * Prints one stdout line at once (plain mode), for commands whose records should appear live
   * (`eos build`); `main.ts` provides it, so printing still happens only there.
   */
  emit?: (line: string) => void;
}
