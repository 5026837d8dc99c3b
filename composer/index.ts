/**
 * The composer: compositions and their composefs images. Other subsystems import it only through
 * this file.
 */
export * from './composefs/index.ts';
