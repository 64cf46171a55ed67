/**
 * The house rules of server/ (checked by `npm run check:arch`, part of `npm test`):
 * the wire contract is the ground floor, the platform and the outbox sit below the features,
 * and nothing imports in a circle.
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'An import cycle between files.', from: {}, to: { circular: true } },
    {
      name: 'contract-is-the-ground-floor',
      severity: 'error',
      comment: 'server/contract/ is imported by frontends and the client package: it imports nothing of the server, and no package but zod.',
      from: { path: '^server/contract/' },
      to: { pathNot: '^server/contract/|^node_modules/zod/|^node_modules/@types/' },
    },
    {
      name: 'platform-below-everything',
      severity: 'error',
      comment: 'server/platform/ is shared machinery: it knows no feature, no outbox, no composition root.',
      from: { path: '^server/platform/' },
      to: { path: '^server/(features|outbox)/|^server/(app|index|config)\\.ts$' },
    },
    {
      name: 'outbox-below-features',
      severity: 'error',
      comment: 'server/outbox/ delivers events of every feature, so it imports none of them.',
      from: { path: '^server/outbox/' },
      to: { path: '^server/features/|^server/(app|index|config)\\.ts$' },
    },
    {
      name: 'features-below-the-root',
      severity: 'error',
      comment: 'A feature gets what it needs from its factory; it never reads the configuration or the composition root.',
      from: { path: '^server/features/' },
      to: { path: '^server/(app|index|config)\\.ts$' },
    },
    {
      name: 'server-never-imports-tests-or-scripts',
      severity: 'error',
      from: { path: '^server/' },
      to: { path: '^(test|scripts|examples|client)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    // TypeScript 7 (the native compiler) has no JavaScript API to parse with; swc reads the .ts files.
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
