/**
 * The client's seq bookkeeping on plain data: which events are new, which are duplicates, when a
 * hole is noticed, and what a resume would send. (The same against real servers: resume.test.ts.)
 */
import assert from 'node:assert/strict';
import { Streams } from '../../client/src/streams.js';

const ROOM = 'parking_lot:4f2d6a53-0c4e-4b8e-9a57-2f1f9b1f0a11';

describe('client: seq bookkeeping per stream', () => {
  it('a tracked stream: in order, each seq is new once, and the watermark follows', () => {
    const s = new Streams();
    s.reset(ROOM, 10);
    assert.deepEqual(s.accept(ROOM, 11), { fresh: true, gap: false });
    assert.deepEqual(s.accept(ROOM, 12), { fresh: true, gap: false });
    assert.deepEqual(s.accept(ROOM, 12), { fresh: false, gap: false }, 'a re-delivery');
    assert.deepEqual(s.accept(ROOM, 9), { fresh: false, gap: false }, 'older than the snapshot');
    assert.equal(s.watermark(ROOM), 12);
  });

  it('a hole: later seqs are new but the watermark waits; filling it moves over the whole run', () => {
    const s = new Streams();
    s.reset(ROOM, 3);
    assert.deepEqual(s.accept(ROOM, 5), { fresh: true, gap: true });
    assert.deepEqual(s.accept(ROOM, 6), { fresh: true, gap: true });
    assert.equal(s.watermark(ROOM), 3, 'a resume asks again from 3');
    assert.deepEqual(s.accept(ROOM, 5), { fresh: false, gap: false }, 'a duplicate asks for nothing');
    assert.equal(s.hasGap(ROOM), true);
    assert.deepEqual(s.accept(ROOM, 4), { fresh: true, gap: false });
    assert.equal(s.watermark(ROOM), 6);
    assert.equal(s.hasGap(ROOM), false);
  });

  it('a snapshot resets the watermark, keeping what was seen beyond it; a lower one is a reset database', () => {
    const s = new Streams();
    s.reset(ROOM, 3);
    s.accept(ROOM, 8);
    s.reset(ROOM, 6);
    assert.equal(s.watermark(ROOM), 6);
    assert.equal(s.hasGap(ROOM), true, '7 is still missing');
    assert.deepEqual(s.accept(ROOM, 7), { fresh: true, gap: false });
    assert.equal(s.watermark(ROOM), 8);
    s.reset(ROOM, 2);
    assert.equal(s.watermark(ROOM), 2);
    assert.deepEqual(s.accept(ROOM, 3), { fresh: true, gap: false });
  });

  it('before its first snapshot a stream only drops exact repeats; the snapshot then drops what it covers', () => {
    const s = new Streams();
    assert.deepEqual(s.accept(ROOM, 40), { fresh: true, gap: false });
    assert.deepEqual(s.accept(ROOM, 40), { fresh: false, gap: false });
    assert.deepEqual(s.accept(ROOM, 42), { fresh: true, gap: false }, 'no watermark yet: no hole to speak of');
    assert.equal(s.watermark(ROOM), undefined);
    s.reset(ROOM, 41);
    assert.equal(s.watermark(ROOM), 42, '42 was already seen, right after the snapshot');
    assert.deepEqual(s.accept(ROOM, 40), { fresh: false, gap: false });
  });

  it('a stream heard without a snapshot (through parking_updates) remembers its recent seqs only', () => {
    const s = new Streams();
    for (let seq = 1; seq <= 300; seq++) assert.equal(s.accept(ROOM, seq).fresh, true);
    assert.equal(s.accept(ROOM, 300).fresh, false);
    assert.equal(s.accept(ROOM, 45).fresh, false, 'the last 256 are remembered');
    assert.equal(s.accept(ROOM, 44).fresh, true, 'older ones are forgotten: memory is bounded');
    s.forget(ROOM);
    assert.equal(s.accept(ROOM, 300).fresh, true);
  });
});
