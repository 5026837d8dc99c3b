/**
 * The build system: a lock's atoms as a build graph, composed with the scheduler, the store's
 * rebuilder and the sandbox executor (`buildLock`), the text and JSON surface of `eos build`, and
 * the runtime composition of a built closure. It sits above the subsystems and below the CLI:
 * subsystems and the kernel never import it.
 *
 * @see specs/layout.md, specs/scheduler.md §10
 */
export * from './build-graph.ts';
export * from './build-report.ts';
export * from './build-run.ts';
export * from './runtime-composition.ts';
export * from './system.ts';
export * from './observe-report.ts';
