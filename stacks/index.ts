/**
 * Stacks: stack files, deployments (signed, sequenced, expiring), the host layout and its
 * generations, the host protocol and its transports (local, SSH), activation backends (process,
 * systemd), rollback and host gc.
 *
 * @see specs/stack.md, specs/host.md
 */
export * from './stack.ts';
export * from './deployment.ts';
export * from './systemd-units.ts';
export * from './evaluate.ts';
export * from './host.ts';
export * from './activate.ts';
export * from './wire.ts';
export * from './serve.ts';
export * from './transport.ts';
export * from './push.ts';
