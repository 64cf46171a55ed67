/**
 * The shared timer behind token expiries: every item fires once, after its deadline, in deadline
 * order by tick; a moved deadline fires at its new time only; a deleted item never fires.
 */
import assert from 'node:assert/strict';
import { DeadlineWheel } from '../server/platform/socket/deadlines.js';
import { waitUntil } from './helpers/measure.js';

describe('DeadlineWheel (one timer for many deadlines)', function () {
  this.timeout(10_000);

  it('fires each item once, not before its deadline, in tick order; moved and deleted items as told', async () => {
    const fired: { item: string; late: number }[] = [];
    const due = new Map<string, number>();
    const wheel = new DeadlineWheel<string>((item) => fired.push({ item, late: Date.now() - due.get(item)! }), 20);
    const now = Date.now();
    const plan: [string, number][] = [
      ['c', 150],
      ['a', 30],
      ['b', 90],
      ['past', -1000],
      ['moved', 40],
      ['deleted', 60],
    ];
    for (const [item, ms] of plan) {
      due.set(item, now + ms);
      wheel.set(item, now + ms);
    }
    due.set('moved', now + 200);
    wheel.set('moved', now + 200);
    wheel.delete('deleted');
    await waitUntil(() => fired.length === 5, 5000, 'five items to fire');
    // Nothing more comes (the deleted one, or a second firing).
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(fired.map((f) => f.item), ['past', 'a', 'b', 'c', 'moved']);
    for (const f of fired) assert.ok(f.late >= 0, `${f.item} fired ${-f.late} ms early`);
    assert.equal(wheel.size, 0);
  });

  it('lets an item be set again from its own firing (a refreshed token)', async () => {
    let count = 0;
    const wheel: DeadlineWheel<string> = new DeadlineWheel((item) => {
      if (++count < 3) wheel.set(item, Date.now() + 10);
    }, 5);
    wheel.set('socket', Date.now() + 10);
    await waitUntil(() => count === 3, 5000, 'three firings');
    assert.equal(wheel.size, 0);
  });
});
