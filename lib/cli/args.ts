// Command-line argument parsing for `lrp`: util.parseArgs with negative numbers, usage errors and number checks.
import { parseArgs } from 'node:util';
import { LrpError } from '../errors';
import { type Composite, type CompositeParams, compositeByName, COMPOSITE_NAMES } from '../rules/composites';

/**
 * The option table of one command, as util.parseArgs takes it, plus `optionalValue`: a string option that may also
 * stand alone (`--heatmap` before another option or at the end); it then reads as the empty string.
 */
export type OptionTable = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean; optionalValue?: boolean }>;

/** Parsed options and positionals of one command. */
export interface ParsedCommandLine {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Options every command accepts. */
export const COMMON_OPTIONS: OptionTable = {
  help: { type: 'boolean', short: 'h' },
  verbose: { type: 'boolean' },
};

/** A usage error (exit status 2). */
export function usageError(message: string, command?: string): LrpError {
  const hint = command ? `; see 'lrp ${command} --help'` : '; see \'lrp --help\'';
  return new LrpError('E_USAGE', `${message}${hint}`);
}

/** `-1`, `-.5`, `-1e-3`: a value, not an option, when it follows an option that takes a value. */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * util.parseArgs refuses `--low -1` (a value that starts with a dash is "ambiguous"), so a negative number that
 * follows a string option is joined to it as `--low=-1` first.
 */
function joinNegativeValues(argv: readonly string[], options: OptionTable): string[] {
  const out: string[] = [];
  const shortToLong = new Map(Object.entries(options).filter(([, o]) => o.short).map(([name, o]) => [o.short as string, name]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') { out.push(...argv.slice(i)); break; }
    const long = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined;
    const short = /^-[A-Za-z]$/.test(arg) ? shortToLong.get(arg[1]) : undefined;
    const name = long ?? short;
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else if (name !== undefined && options[name]?.optionalValue === true && (next === undefined || next.startsWith('-'))) {
      out.push(`--${name}=`);
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Parses the arguments of `lrp <command>`; unknown options and missing values are usage errors. */
export function parseCommandLine(argv: readonly string[], options: OptionTable, command: string): ParsedCommandLine {
  const table = { ...COMMON_OPTIONS, ...options };
  const parseTable = Object.fromEntries(Object.entries(table).map(([name, { optionalValue: _, ...option }]) => [name, option]));
  try {
    const { values, positionals } = parseArgs({
      args: joinNegativeValues(argv, table), options: parseTable, strict: true, allowPositionals: true,
    });
    return { values: values as ParsedCommandLine['values'], positionals };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = (error as Error).message;
    const option = /'(-[^']*)'/.exec(message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw usageError(`unknown option '${option ?? message}' for 'lrp ${command}'`, command);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const flag = /--[\w-]+/.exec(message)?.[0] ?? option ?? 'an option';
      const takesNoValue = /does not take an argument/.test(message);
      throw usageError(takesNoValue ? `option '${flag}' takes no value` : `option '${flag}' needs a value`, command);
    }
    throw usageError(message.split('\n')[0], command);
  }
}

/** A required option's value (usage error when missing). */
export function requireString(values: ParsedCommandLine['values'], name: string, command: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw usageError(`missing required option --${name}`, command);
  return value;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A finite decimal number from an option value (usage error otherwise); `undefined` when not given. */
export function parseNumberOption(values: ParsedCommandLine['values'], name: string, command: string): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const value = typeof text === 'string' && DECIMAL.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isFinite(value)) throw usageError(`--${name} expects a number, got '${String(text)}'`, command);
  return value;
}

/** A positive integer option (usage error otherwise). */
export function parseIntegerOption(values: ParsedCommandLine['values'], name: string, command: string, max: number): number | undefined {
  const value = parseNumberOption(values, name, command);
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw usageError(`--${name} expects an integer in 1…${max}, got '${String(values[name])}'`, command);
  }
  return value;
}

/** The options that choose a composite and its parameters (shared by `explain` and `info`). */
export const COMPOSITE_OPTIONS: OptionTable = {
  composite: { type: 'string', short: 'c' },
  epsilon: { type: 'string' },
  stabilizer: { type: 'string' },
  gamma: { type: 'string' },
  alpha: { type: 'string' },
  beta: { type: 'string' },
  low: { type: 'string' },
  high: { type: 'string' },
};

/** Help lines for {@link COMPOSITE_OPTIONS}. */
export const COMPOSITE_HELP = `  -c, --composite NAME  rule preset (default epsilon): ${COMPOSITE_NAMES.join(', ')}
                        (zennit spellings such as epsilon_plus_flat also work)
  --epsilon E           epsilon of the epsilon rule (default 1e-6)
  --stabilizer S        stabilizer of the other rules and of Norm (default 1e-6)
  --gamma G             gamma of the gamma rule (default 0.25)
  --alpha A, --beta B   alpha and beta of the alpha-beta composite (default 2 and 1)
  --low L, --high H     input bounds of the zBox rule (required by epsilon-gamma-box)`;

/** The chosen composite and the parameters given on the command line. */
export interface CompositeChoice {
  name: string;
  params: CompositeParams;
  composite: Composite;
}

/** Reads the composite options and builds the composite; an unknown name or bad parameter is a usage error. */
export function parseComposite(values: ParsedCommandLine['values'], command: string): CompositeChoice {
  const name = typeof values.composite === 'string' ? values.composite : 'epsilon';
  const params: CompositeParams = {};
  for (const key of ['epsilon', 'stabilizer', 'gamma', 'alpha', 'beta', 'low', 'high'] as const) {
    const value = parseNumberOption(values, key, command);
    if (value !== undefined) params[key] = value;
  }
  try {
    return { name, params, composite: compositeByName(name, params) };
  } catch (error) {
    if (error instanceof LrpError) {
      const hint = /low|high/.test(error.message) ? ' (give --low and --high)' : '';
      throw usageError(`--composite ${name}: ${error.message}${hint}`, command);
    }
    throw error;
  }
}
