import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface PackageJson {
  name?: string;
  version?: string;
}

/**
 * The folder of spotcast's package.json. Files beside the code (migrations/, public/) are found
 * from there rather than relative to this module, because the module runs from server/ (tsx) or
 * from dist/server/ (the build), and only the package root is the same for both.
 */
function findPackageRoot(from: string): { dir: string; manifest: PackageJson } {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
      if (manifest.name === 'spotcast') return { dir, manifest };
    }
    if (path.dirname(dir) === dir) throw new Error(`spotcast's package.json is in no folder above ${from}`);
  }
}

const root = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/** A path inside the package, e.g. `fromPackageRoot('migrations')`. */
export function fromPackageRoot(...segments: string[]): string {
  return path.join(root.dir, ...segments);
}

/** The version in package.json (the build_info metric). */
export const PACKAGE_VERSION = root.manifest.version ?? '0.0.0';
