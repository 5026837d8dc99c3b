/**
 * SIGKILL `eos deploy` (and the host side: its `eos host serve`, and the detached activator) at
 * random points across push, generation write, flip and activation; after every kill the previous
 * generation is live (or the new one, wholly, when its flip happened), `eos host verify` passes,
 * and the next deploy succeeds. The kills are stratified over one deploy's span (tests/stacks/fault-run.ts),
 * so a few cover every phase: `EOS_FAULT_KILLS` sets the count (default 8 here, about a minute; the
 * 200-kill run is bench/deploy/fault.ts). The phase counts are printed.
 */
import { describe, expect, it } from 'vitest';
import { faultRun } from './fault-run.ts';

const isRoot = process.getuid?.() === 0;
const kills = Number(process.env.EOS_FAULT_KILLS ?? 8);

describe.skipIf(!isRoot)('deploys killed at random points leave the host whole', () => {
  it(`${kills} kills`, async () => {
    const r = await faultRun(kills);
    console.log(`deploy fault run: ${r.kills} kills in ${r.seconds} s; phases ${JSON.stringify(r.phases)}`);
    expect(r.failures).toEqual([]);
    expect(
      r.phases.push + r.phases['generation-write'] + r.phases.flip + r.phases.activation,
    ).toBeGreaterThan(0);
  }, 3_600_000);
});
