// A progress bar for long `lrp` runs, drawn with cli-progress on a terminal only: silent when piped or --quiet.
import { SingleBar } from 'cli-progress';
import type { CliIo } from './command';

/** A progress display; every method is a no-op when nothing is drawn. */
export interface Progress {
  /** Sets the number of items done. */
  update(done: number): void;
  /** Writes a line to stderr without tearing the bar. */
  log(text: string): void;
  /** Removes the bar (idempotent). */
  stop(): void;
}

/**
 * A progress bar over `total` items labelled `label`, drawn on `io.progressStream` (the terminal) unless `quiet`.
 * Without a terminal it draws nothing, so logs and pipes get only the summary.
 */
export function createProgress(io: CliIo, total: number, label: string, quiet: boolean): Progress {
  const stream = io.progressStream;
  if (quiet || stream === undefined || stream.isTTY !== true) {
    return { update: () => undefined, log: (text) => io.stderr(text), stop: () => undefined };
  }
  const bar = new SingleBar({
    stream: stream as NodeJS.WriteStream,
    format: `${label} [{bar}] {value}/{total} {percentage}% | eta {eta_formatted}`,
    barCompleteChar: '█',
    barIncompleteChar: '░',
    hideCursor: false,
    clearOnComplete: true,
    gracefulExit: false,
  });
  bar.start(total, 0);
  let stopped = false;
  return {
    update: (done) => { if (!stopped) bar.update(done); },
    log: (text) => {
      if (stopped) {
        io.stderr(text);
        return;
      }
      stream.write('\r\x1B[K'); // clear the bar's line, print, and let the bar redraw below
      io.stderr(text);
      bar.render();
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
