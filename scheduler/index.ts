/**
 * The Eos scheduler: action keys, build records, the action cache, the rebuilder (staleness) and
 * the scheduler (order, job budget, critical path, keep-going, cancellation, progress events).
 *
 * @see specs/action.md, specs/scheduler.md
 */
export * from './action-key.ts';
export * from './build-record.ts';
export * from './action-cache.ts';
export * from './rebuilder.ts';
export * from './scheduler.ts';
export * from './history.ts';
export * from './history-file.ts';
export * from './simulation/virtual-clock.ts';
export * from './simulation/synthetic.ts';
export * from './plan.ts';
export * from './signals.ts';
export * from './atom-outputs.ts';
export * from './jobserver.ts';
