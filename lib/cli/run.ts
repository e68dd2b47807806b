// The `lrp` command line: picks the subcommand, prints help and version, and turns errors into exit statuses.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isLrpError } from '../errors';
import { parseCommandLine, usageError } from './args';
import type { CliContext, CliIo, Command } from './command';
import { explainCommand } from './explain';
import { infoCommand } from './info';
import { importOnnx } from './load-model';

/** The subcommands, in the order `lrp --help` lists them. */
export const COMMANDS: readonly Command[] = [explainCommand, infoCommand];

/** The package version (from package.json, two folders above both lib/cli and dist/cli). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The text of `lrp --help`. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: lrp <command> [options]

Layer-wise Relevance Propagation for ONNX models.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  -h, --help     show help (also: lrp <command> --help, lrp help <command>)
  --version      print the version
  --verbose      print the stack trace of an error

Exit status: 0 on success, 2 on a usage error, 1 on any other error.`;
}

function findCommand(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw usageError(`unknown command '${name}'; commands: ${COMMANDS.map((c) => c.name).join(', ')}`);
  return command;
}

async function dispatch(argv: string[], io: CliIo, context: CliContext): Promise<number> {
  const first = argv[0];
  if (first === undefined) {
    io.stderr(`${mainHelp()}\n`);
    return 2;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    const topic = argv[1];
    io.stdout(`${topic === undefined ? mainHelp() : findCommand(topic).help}\n`);
    return 0;
  }
  if (first === '--version' || first === '-V') {
    io.stdout(`${packageVersion()}\n`);
    return 0;
  }
  if (first.startsWith('-')) throw usageError(`unknown option '${first}' (options come after the command)`);
  const command = findCommand(first);
  const parsed = parseCommandLine(argv.slice(1), command.options, command.name);
  if (parsed.values.help === true) {
    io.stdout(`${command.help}\n`);
    return 0;
  }
  return command.run(parsed, io, context);
}

/**
 * Runs `lrp` with the given arguments (without `node` and the script) and resolves to the exit status:
 * 0 on success, 2 on a usage error (`E_USAGE`), 1 on any other error. Errors are printed as one line on stderr,
 * `lrp: <CODE>: <message>`, with the stack trace only when `--verbose` is among the arguments.
 */
export async function runCli(argv: readonly string[], io: CliIo, context: CliContext = { importOnnx }): Promise<number> {
  const args = [...argv];
  const verbose = args.includes('--verbose');
  if (args[0] === '--verbose') args.shift();
  try {
    return await dispatch(args, io, context);
  } catch (error) {
    const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').trim();
    if (isLrpError(error)) {
      io.stderr(`lrp: ${error.code}: ${oneLine(error.message)}\n`);
      if (verbose && error.stack) io.stderr(`${error.stack}\n`);
      return error.code === 'E_USAGE' ? 2 : 1;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`lrp: internal error: ${oneLine(message)}${verbose ? '' : ' (run with --verbose for the stack trace)'}\n`);
    if (verbose && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
    return 1;
  }
}
