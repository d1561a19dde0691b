// Lint = TypeScript-aware rules + Nx module boundaries: dependencies point inward
// (apps → feature → adapters → ports → domain) and a library may only import what its tags allow.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const DEP_CONSTRAINTS = [
  { sourceTag: 'type:domain', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'type:ports', onlyDependOnLibsWithTags: ['type:domain'] },
  { sourceTag: 'type:config', onlyDependOnLibsWithTags: ['type:domain'] },
  { sourceTag: 'type:contract', onlyDependOnLibsWithTags: ['type:domain', 'type:ports'] },
  { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:domain', 'type:ports', 'type:contract'] },
  { sourceTag: 'type:feature', onlyDependOnLibsWithTags: ['type:domain', 'type:ports', 'type:contract'] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:domain', 'type:ports', 'type:contract'] },
  { sourceTag: 'type:runtime', onlyDependOnLibsWithTags: ['type:domain', 'type:ports', 'type:contract', 'type:adapter', 'type:config', 'type:feature'] },
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:runtime', 'type:feature', 'type:config', 'type:domain', 'type:ports', 'type:testing'] }
];

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '.nx/**', '.engines/**', '.cache/**', 'data/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name=/^(it|test|describe)$/][callee.property.name=/^(skip|only|todo)$/]", message: 'No skipped or focused tests.' },
      ],
    },
  },
  {
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', { enforceBuildableLibDependency: false, allow: [], depConstraints: DEP_CONSTRAINTS }] },
  },
  {
    // An adapter's specs run the shared contract suites and engine helpers from libs/testing.
    files: ['libs/**/*.spec.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: DEP_CONSTRAINTS.map((c) => (c.sourceTag === 'type:adapter' ? { ...c, onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, 'type:testing'] } : c)),
        },
      ],
    },
  },
  {
    // Only libs/config and each app's main.ts read the environment (DESIGN.md section 8).
    files: ['libs/**/*.ts'],
    ignores: ['libs/config/**', 'libs/testing/**'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read settings through @engram/config.' }],
    },
  },
];
