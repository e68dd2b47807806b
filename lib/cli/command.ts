// What every `lrp` subcommand is: its name, help text, option table and run function, and where it writes.
import type { OptionTable, ParsedCommandLine } from './args';
import type { OnnxModule } from './load-model';

/** Where a command writes; the real command line passes process.stdout/stderr, tests collect strings. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /**
   * The terminal that progress bars are drawn on: process.stderr when it is a TTY, otherwise absent (then no bar is
   * drawn, so piped and logged output stays clean).
   */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

/** What commands load lazily; tests replace the ONNX loader with a stand-in. */
export interface CliContext {
  importOnnx(): Promise<OnnxModule>;
}

/** One subcommand of `lrp`. */
export interface Command {
  name: string;
  /** One line for `lrp --help`. */
  summary: string;
  /** The full text of `lrp <name> --help`. */
  help: string;
  options: OptionTable;
  /** Runs the command; resolves to the exit status (errors are thrown as LrpError). */
  run(args: ParsedCommandLine, io: CliIo, context: CliContext): Promise<number>;
}
