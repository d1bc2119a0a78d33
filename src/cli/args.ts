import { parseArgs } from 'node:util';

/** Parses `--name value` flags with node:util, and turns integer flags into checked numbers. */
export function cliArgs<T extends Record<string, { type: 'string' | 'boolean'; default?: string | boolean; multiple?: boolean }>>(
  options: T,
) {
  const { values } = parseArgs({ options, strict: true, allowPositionals: false });
  return values;
}

export function intFlag(value: unknown, name: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max}, got "${String(value)}"`);
    process.exit(2);
  }
  return n;
}
