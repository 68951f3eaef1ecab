import { describe, expect, it } from 'vitest';
import { MemoryState } from '../../gateway/state/memory.js';
import { LeaseLeadership } from '../../slo/leader.js';

/** What the collector writes to audit_log as leader_acquired / leader_lost: real changes only. */
describe('SLO leadership changes, as the audit log sees them', () => {
  it('taken, kept (no event), lost to another engine after the lease lapses, resigned', async () => {
    let clock = 1_000_000;
    const state = new MemoryState(() => clock);
    const changes: string[] = [];
    const engine = (id: string) => new LeaseLeadership({ state, id, ttlMs: 1000, log: () => undefined, now: () => clock, onChange: (leading, why) => changes.push(`${id} ${leading ? 'acquired' : 'lost'} (${why})`) });
    const a = engine('a');
    const b = engine('b');
    expect(await a.renew()).toBe(true);
    expect(await a.renew()).toBe(true);
    expect(await b.renew()).toBe(false);
    clock += 1500;
    expect(await b.renew()).toBe(true);
    expect(await a.renew()).toBe(false);
    await b.resign();
    expect(changes).toEqual(['a acquired (lease taken)', 'b acquired (lease taken)', 'a lost (lease lost)', 'b lost (resigned)']);
  });
});
