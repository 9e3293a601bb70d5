// The yaml package, the largest the CLI uses, for the commands that only sometimes print YAML.
type Yaml = typeof import('yaml');

/**
 * Loads it on first use. Node hands a CommonJS package's exports to import() as `default` (and,
 * as far as it can detect them, by name); once bundled into dist/, only as `default`.
 */
export async function loadYaml(): Promise<Yaml> {
  const m = (await import('yaml')) as Yaml & { default?: Yaml };
  return m.default ?? m;
}
