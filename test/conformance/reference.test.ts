/**
 * The reference document itself: the repository's copy is the team's document, and every code
 * block in it is exercised by a conformance suite or says why it is not client-facing.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CLIENT_EVENTS } from '../../server/contract/index.js';
import { blocks, clientEvents, DOCUMENT_COPY, DOCUMENT_ORIGINAL, HERE, where } from './document.js';

/** Each block (by its headings) → the file that runs it and a text that file must contain, or why none does. */
const COVERAGE: Record<string, { file: string; uses: string } | { none: string }> = {
  'API Endpoints › Real-Time Routes (`/realtime`) › Public (Authenticated Users)': { file: 'routes.test.ts', uses: 'routes()' },
  'API Endpoints › Real-Time Routes (`/realtime`) › Admin Only': { file: 'routes.test.ts', uses: 'routes()' },
  'WebSocket Events › Client → Server Events › Authentication': { file: 'snippets.ts', uses: "block('Authentication')" },
  'WebSocket Events › Client → Server Events › Room Subscriptions': { file: 'snippets.ts', uses: "block('Room Subscriptions')" },
  'WebSocket Events › Client → Server Events › Data Requests': { file: 'snippets.ts', uses: "block('Data Requests')" },
  'WebSocket Events › Server → Client Events › Connection Events': { file: 'snippets.ts', uses: "'Connection Events'" },
  'WebSocket Events › Server → Client Events › Real-Time Updates': { file: 'snippets.ts', uses: "'Real-Time Updates'" },
  'WebSocket Events › Server → Client Events › System Events': { file: 'snippets.ts', uses: "'System Events'" },
  'WebSocket Events › Server → Client Events › Error Handling': { file: 'snippets.ts', uses: "'Error Handling'" },
  'Frontend Integration › Basic Setup': { file: 'build.ts', uses: "block('Basic Setup')" },
  'Frontend Integration › React Hook Example': { file: 'build.ts', uses: "block('React Hook Example')" },
  'Environment Variables': { file: 'document.ts', uses: "block('Environment Variables')" },
  'Database Migrations': {
    none: "a pointer to the original backend's SQL file for the Supabase SQL editor; spotcast's own are migrations/*.sql, applied by npm start or Supabase's CLI",
  },
  'Troubleshooting › Common Issues › Connection Failed': { file: 'troubleshooting.test.ts', uses: "block('Connection Failed')" },
  'Troubleshooting › Common Issues › Missing Updates': { file: 'troubleshooting.test.ts', uses: "block('Missing Updates')" },
  'Troubleshooting › Debug Mode': {
    none: "socket.io-client's own debug switch in the browser, which the server never sees (and which the ESM browser build of socket.io-client 4 does not contain)",
  },
  'API Testing': { file: 'dev-script.test.ts', uses: "block('API Testing')" },
};

describe('reference document: the copy and what is tested of it', () => {
  it('the repository copy is identical to the team\'s reference document', function () {
    if (!existsSync(DOCUMENT_ORIGINAL)) {
      console.warn(`    SKIPPED (${DOCUMENT_ORIGINAL} is not on this machine, e.g. in CI: the copy in the repository is what is tested)`);
      this.skip();
    }
    assert.equal(readFileSync(DOCUMENT_COPY, 'utf8'), readFileSync(DOCUMENT_ORIGINAL, 'utf8'), `${DOCUMENT_COPY} differs from ${DOCUMENT_ORIGINAL}: copy it again`);
  });

  it('every code block of the document is run by a conformance suite, or is not client-facing and says why', () => {
    assert.deepEqual(blocks.map(where).sort(), Object.keys(COVERAGE).sort(), 'the document gained, lost or renamed a code block: cover it here');
    for (const [heading, cover] of Object.entries(COVERAGE)) {
      if ('none' in cover) continue;
      const source = readFileSync(path.join(HERE, cover.file), 'utf8');
      assert.ok(source.includes(cover.uses), `${cover.file} does not use ${cover.uses} (for "${heading}")`);
    }
  });

  it('every event the document\'s client code sends is one spotcast answers', () => {
    const events = clientEvents();
    assert.ok(events.length > 0);
    assert.deepEqual(events.filter((e) => !Object.hasOwn(CLIENT_EVENTS, e)), []);
  });
});
