// The CLI's command table vocabulary: one `Command` per subcommand, parsed with node:util parseArgs.
import { parseArgs } from 'node:util';
import { RnnxError } from '../ir/errors.js';

/** A wrong command line: printed as one line, exit status 2. */
export class UsageError extends RnnxError {
  override name = 'UsageError';
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** May be given more than once (values collected in order). */
  readonly multiple?: boolean;
  readonly short?: string;
  /** Placeholder shown in the help, e.g. `NAME=FILE.npy`. */
  readonly value?: string;
  readonly help: string;
}

export interface Args {
  readonly positionals: readonly string[];
  /** The last value of a string option, or undefined. */
  str(name: string): string | undefined;
  /** Every value of a repeatable option. */
  list(name: string): readonly string[];
  flag(name: string): boolean;
}

export interface Command {
  readonly name: string;
  /** What follows `rnnx NAME` in the usage line, e.g. `MODEL [options]`. */
  readonly usage: string;
  /** One line for `rnnx --help`. */
  readonly summary: string;
  /** More text for `rnnx NAME --help`. */
  readonly description?: string;
  readonly positionals: { readonly min: number; readonly max: number; readonly name: string };
  readonly options: Readonly<Record<string, OptionSpec>>;
  run(args: Args): number | Promise<number>;
}

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help' };

/** `rnnx NAME --help`. */
export function commandHelp(c: Command): string {
  const rows = Object.entries({ ...c.options, help: HELP_OPTION }).map(([name, o]) => {
    const left = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    return [left, o.help + (o.multiple ? ' (repeatable)' : '')] as const;
  });
  const w = Math.max(...rows.map(([l]) => l.length)) + 2;
  return [
    `Usage: rnnx ${c.name} ${c.usage}`,
    '',
    c.summary,
    ...(c.description ? ['', c.description] : []),
    '',
    'Options:',
    ...rows.map(([l, r]) => `  ${l.padEnd(w)}${r}`),
  ].join('\n');
}

function usageMessage(c: Command, e: { code?: string; message: string }): string {
  const opt = /'(-[^' ]*)/.exec(e.message)?.[1];
  const see = `(see rnnx ${c.name} --help)`;
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${opt} ${see}`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/does not take an argument/.test(e.message)) return `${opt} takes no value ${see}`;
    if (/ambiguous/.test(e.message)) return `${opt} needs a value; to give one that starts with '-', write ${opt}=VALUE`;
    return `${opt} needs a value ${see}`;
  }
  return `${e.message.split('\n')[0]} ${see}`;
}

/** Parses argv for one command; `undefined` when `--help` was asked (the help is printed). */
export function parseCommandArgs(c: Command, argv: readonly string[]): Args | undefined {
  const options: Record<string, { type: 'string' | 'boolean'; multiple: boolean; short?: string }> = {};
  for (const [name, o] of Object.entries({ ...c.options, help: HELP_OPTION })) {
    // collect every value so that a repeated single-valued option is an error, not "last wins"
    options[name] = { type: o.type, multiple: true, ...(o.short ? { short: o.short } : {}) };
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(usageMessage(c, e as { code?: string; message: string }));
  }
  const values = parsed.values as Record<string, (string | boolean)[] | undefined>;
  if (values.help?.length) {
    console.log(commandHelp(c));
    return undefined;
  }
  for (const [name, o] of Object.entries(c.options)) {
    if (!o.multiple && (values[name]?.length ?? 0) > 1) throw new UsageError(`--${name} given more than once`);
  }
  const { min, max, name } = c.positionals;
  const n = parsed.positionals.length;
  if (n < min || n > max) {
    const want = min === max ? `exactly ${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    throw new UsageError(`${c.name} takes ${want} ${name} argument${max === 1 ? '' : 's'}, got ${n} (usage: rnnx ${c.name} ${c.usage})`);
  }
  return {
    positionals: parsed.positionals,
    str: (k) => (values[k] as string[] | undefined)?.at(-1),
    list: (k) => (values[k] as string[] | undefined) ?? [],
    flag: (k) => (values[k]?.length ?? 0) > 0,
  };
}

/** A decimal integer in [min, max] (no signs, exponents, hex or fractions). */
export function intOption(option: string, text: string, min: number, max: number): number {
  if (!/^\d{1,16}$/.test(text)) throw new UsageError(`${option} expects an integer, got '${text}'`);
  const v = Number(text);
  if (v < min || v > max) throw new UsageError(`${option} must be between ${min} and ${max}, got ${text}`);
  return v;
}

/** A finite non-negative decimal number. */
export function numberOption(option: string, text: string): number {
  const v = /^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(v)) throw new UsageError(`${option} expects a non-negative number, got '${text}'`);
  return v;
}

/** `NAME=VALUE`, both parts non-empty. */
export function splitPair(option: string, spec: string, what: string): [string, string] {
  const eq = spec.indexOf('=');
  if (eq < 1 || eq === spec.length - 1) throw new UsageError(`${option} expects ${what}, got '${spec}'`);
  return [spec.slice(0, eq), spec.slice(eq + 1)];
}
